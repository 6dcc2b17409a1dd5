package record

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDiff(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	base := func() *kgo.Record {
		return &kgo.Record{Key: []byte("k"), Value: []byte("v"), Timestamp: at,
			Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}}
	}
	for _, c := range []struct {
		name  string
		alter func(*kgo.Record)
		want  []string
	}{
		{"a copy", func(*kgo.Record) {}, nil},
		// Kafka keeps milliseconds: what a producer set finer is not kept.
		{"the same millisecond", func(r *kgo.Record) { r.Timestamp = at.Add(400 * time.Microsecond) }, nil},
		{"another millisecond", func(r *kgo.Record) { r.Timestamp = at.Add(time.Millisecond) }, []string{"timestamp"}},
		{"nil key for a key", func(r *kgo.Record) { r.Key = nil }, []string{"key"}},
		{"empty value for a value", func(r *kgo.Record) { r.Value = []byte{} }, []string{"value"}},
		{"a null header value made empty", func(r *kgo.Record) { r.Headers[1].Value = []byte{} }, []string{"headers"}},
		{"headers reordered", func(r *kgo.Record) { r.Headers[0], r.Headers[1] = r.Headers[1], r.Headers[0] }, []string{"headers"}},
		{"a header fewer", func(r *kgo.Record) { r.Headers = r.Headers[:1] }, []string{"headers"}},
		// A flow with provenance headers stamps its copies last.
		{"stamped with its origin", func(r *kgo.Record) {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: OriginHeader, Value: []byte("id")})
		}, nil},
		{"an origin header not last", func(r *kgo.Record) {
			r.Headers = append([]kgo.RecordHeader{{Key: OriginHeader, Value: []byte("id")}}, r.Headers...)
		}, []string{"headers"}},
		{"another header added", func(r *kgo.Record) { r.Headers = append(r.Headers, kgo.RecordHeader{Key: "c"}) }, []string{"headers"}},
		{"everything", func(r *kgo.Record) {
			r.Key, r.Value, r.Headers, r.Timestamp = []byte("x"), nil, nil, at.Add(time.Second)
		}, []string{"key", "value", "headers", "timestamp"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt := base()
			c.alter(tgt)
			if got := Diff(base(), tgt); !slices.Equal(got, c.want) {
				t.Errorf("Diff = %v, want %v", got, c.want)
			}
			if Same(base(), tgt) != (c.want == nil) {
				t.Errorf("Same = %v, want %v", !(c.want == nil), c.want == nil)
			}
		})
	}
}

// BenchmarkSame is the cost of comparing a copy, as the exact resume does
// for each record of the target's tail.
func BenchmarkSame(b *testing.B) {
	src := &kgo.Record{Key: []byte("key"), Value: make([]byte, 1024), Timestamp: time.Now(), Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}}}
	tgt := *src
	b.ReportAllocs()
	for b.Loop() {
		if !Same(src, &tgt) {
			b.Fatal("not the same")
		}
	}
}
