package verify

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/offsetmap"
)

// records is a stream over records in memory.
type records []*kgo.Record

func (rs *records) next(context.Context) (*kgo.Record, error) {
	if len(*rs) == 0 {
		return nil, nil
	}
	r := (*rs)[0]
	*rs = (*rs)[1:]
	return r, nil
}

// rec is a record at an offset whose fields derive from id, so that a
// copy made with the same id is identical.
func rec(offset int64, id int) *kgo.Record {
	return &kgo.Record{Offset: offset, Key: fmt.Appendf(nil, "k%d", id), Value: fmt.Appendf(nil, "v%d", id),
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}, Timestamp: time.UnixMilli(int64(1000 + id))}
}

func with(r *kgo.Record, change func(*kgo.Record)) *kgo.Record {
	change(r)
	return r
}

func TestWalk(t *testing.T) {
	seg := func(src, tgt, n int64) offsetmap.Segment {
		return offsetmap.Segment{Source: src, Target: tgt, Count: n}
	}
	tests := []struct {
		name     string
		segs     []offsetmap.Segment
		src, tgt records
		max      int
		counts   Counts
		want     []Mismatch
	}{
		{
			name:   "identical with holes in the source",
			segs:   []offsetmap.Segment{seg(0, 0, 2), seg(5, 2, 1)},
			src:    records{rec(0, 0), rec(1, 1), rec(5, 5)},
			tgt:    records{rec(0, 0), rec(1, 1), rec(2, 5)},
			counts: Counts{Compared: 3, Identical: 3},
		},
		{
			name: "each field altered",
			segs: []offsetmap.Segment{seg(10, 20, 5)},
			src:  records{rec(10, 0), rec(11, 1), rec(12, 2), rec(13, 3), rec(14, 4)},
			tgt: records{
				with(rec(20, 0), func(r *kgo.Record) { r.Key = nil }),
				with(rec(21, 1), func(r *kgo.Record) { r.Value = []byte{} }),
				with(rec(22, 2), func(r *kgo.Record) {
					r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("x")}, {Key: "h2"}}
				}),
				with(rec(23, 3), func(r *kgo.Record) { r.Timestamp = r.Timestamp.Add(time.Millisecond) }),
				with(rec(24, 4), func(r *kgo.Record) { r.Key, r.Value = []byte("k"), nil }),
			},
			max:    10,
			counts: Counts{Compared: 5, Altered: 5},
			want: []Mismatch{
				{Kind: Altered, SourceOffset: 10, TargetOffset: 20, Fields: []string{"key"}},
				{Kind: Altered, SourceOffset: 11, TargetOffset: 21, Fields: []string{"value"}},
				{Kind: Altered, SourceOffset: 12, TargetOffset: 22, Fields: []string{"headers"}},
				{Kind: Altered, SourceOffset: 13, TargetOffset: 23, Fields: []string{"timestamp"}},
				{Kind: Altered, SourceOffset: 14, TargetOffset: 24, Fields: []string{"key", "value"}},
			},
		},
		{
			name:   "missing: never copied, and gone from the target",
			segs:   []offsetmap.Segment{seg(0, 0, 1), seg(2, 1, 2)},
			src:    records{rec(0, 0), rec(1, 1), rec(2, 2), rec(3, 3)},
			tgt:    records{rec(0, 0), rec(2, 3)},
			counts: Counts{Compared: 4, Identical: 2, Missing: 2},
			want: []Mismatch{
				{Kind: Missing, SourceOffset: 1, TargetOffset: -1, Reason: reasonNotCopied},
				{Kind: Missing, SourceOffset: 2, TargetOffset: 1, Reason: reasonNoTarget},
			},
		},
		{
			name:   "extra: a stranger's record, and a copy whose source is gone",
			segs:   []offsetmap.Segment{seg(0, 0, 2), seg(2, 3, 2)},
			src:    records{rec(0, 0), rec(3, 3)},
			tgt:    records{rec(0, 0), rec(1, 1), rec(2, 99), rec(3, 2), rec(4, 3)},
			counts: Counts{Compared: 2, Identical: 2, Extra: 3},
			want: []Mismatch{
				{Kind: Extra, SourceOffset: -1, TargetOffset: 1, Reason: fmt.Sprintf(reasonGone, 1)},
				{Kind: Extra, SourceOffset: -1, TargetOffset: 2, Reason: reasonStranger},
				{Kind: Extra, SourceOffset: -1, TargetOffset: 3, Reason: fmt.Sprintf(reasonGone, 2)},
			},
		},
		{
			name:   "extra after the last source record, mismatches capped",
			segs:   []offsetmap.Segment{seg(0, 0, 1)},
			src:    records{rec(0, 0)},
			tgt:    records{rec(0, 0), rec(1, 1), rec(2, 2), rec(3, 3)},
			max:    2,
			counts: Counts{Compared: 1, Identical: 1, Extra: 3},
			want: []Mismatch{
				{Kind: Extra, SourceOffset: -1, TargetOffset: 1, Reason: reasonStranger},
				{Kind: Extra, SourceOffset: -1, TargetOffset: 2, Reason: reasonStranger},
			},
		},
		{
			name:   "empty target",
			segs:   []offsetmap.Segment{seg(0, 0, 2)},
			src:    records{rec(0, 0), rec(1, 1)},
			counts: Counts{Compared: 2, Missing: 2},
			want: []Mismatch{
				{Kind: Missing, SourceOffset: 0, TargetOffset: 0, Reason: reasonNoTarget},
				{Kind: Missing, SourceOffset: 1, TargetOffset: 1, Reason: reasonNoTarget},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Partition{Mismatches: []Mismatch{}}
			w := &walk{segs: tt.segs, max: cmp.Or(tt.max, DefaultMaxMismatches), p: p}
			if err := w.run(context.Background(), &tt.src, &tt.tgt); err != nil {
				t.Fatal(err)
			}
			if p.Counts != tt.counts {
				t.Errorf("counts %+v, want %+v", p.Counts, tt.counts)
			}
			if tt.want == nil {
				tt.want = []Mismatch{}
			}
			if !reflect.DeepEqual(p.Mismatches, tt.want) {
				t.Errorf("mismatches\n%+v\nwant\n%+v", p.Mismatches, tt.want)
			}
		})
	}
}

func TestMirroredRanges(t *testing.T) {
	// Source 5..9 copied to target 100..104, 10 and 11 were markers, 12..14
	// copied to 105..107.
	m := offsetmap.Restore(5, offsetmap.Segment{Source: 15, Target: 108},
		[]offsetmap.Segment{{Source: 5, Target: 100, Count: 5}, {Source: 12, Target: 105, Count: 3}})
	tests := []struct {
		from     int64
		src, tgt Range
	}{
		{0, Range{5, 15}, Range{100, 108}},   // the log start is below the map
		{7, Range{7, 15}, Range{102, 108}},   // retention or --from-timestamp
		{10, Range{10, 15}, Range{105, 108}}, // on a marker: the next copied record
		{15, Range{15, 15}, Range{108, 108}}, // nothing left
		{99, Range{15, 15}, Range{108, 108}}, // past the mirrored end
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.from), func(t *testing.T) {
			src, tgt := mirroredRanges(m, tt.from)
			if src != tt.src || tgt != tt.tgt {
				t.Errorf("%+v → %+v, want %+v → %+v", src, tgt, tt.src, tt.tgt)
			}
		})
	}
}
