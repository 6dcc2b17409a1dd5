package main_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/kstruct"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// How the workers' tests read what reached the target and check it
// against the source.

// readTopic reads every committed record of a topic as it is now, by
// partition, as a read_committed consumer sees them: no aborted record,
// no transaction marker.
func readTopic(ctx context.Context, brokers, topic string) (map[int32][]*kgo.Record, error) {
	out := map[int32][]*kgo.Record{}
	err := cluster.ScanTopic(ctx, []kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...)}, topic, func(r *kgo.Record) {
		out[r.Partition] = append(out[r.Partition], r)
	})
	return out, err
}

// progressWrite is one record of the progress topic: the next source offset
// of a partition, who wrote it and when.
type progressWrite struct {
	tp     tp
	end    int64
	worker string
	at     time.Time
}

// readProgress reads the progress topic on the target, in the order it was
// written (it has one partition). The format is the README's: key INT16 1,
// topic STRING, partition INT32; value INT16 1, source cluster id STRING,
// topic id 16 bytes, start INT64, end source INT64, end target INT64.
func readProgress(ctx context.Context, target, sourceAlias string) ([]progressWrite, error) {
	topic := "kmirror-progress." + sourceAlias + ".internal"
	byPart, err := readTopic(ctx, target, topic)
	if err != nil {
		return nil, err
	}
	var out []progressWrite
	for _, r := range byPart[0] {
		k := kstruct.Reader{B: r.Key}
		kv := k.Int16()
		w := progressWrite{tp: tp{k.String(), k.Int32()}, at: r.Timestamp}
		v := kstruct.Reader{B: r.Value}
		vv := v.Int16()
		_ = v.String() // source cluster id
		v.Fixed(16)
		v.Int64()
		w.end = v.Int64()
		v.Int64()
		if err := errors.Join(k.Done(), v.Done()); err != nil || kv != 1 || vv != 1 {
			return nil, fmt.Errorf("%s at offset %d: key version %d, value version %d: %v", topic, r.Offset, kv, vv, err)
		}
		for _, h := range r.Headers {
			if h.Key == progress.WorkerHeader {
				w.worker = string(h.Value)
			}
		}
		out = append(out, w)
	}
	return out, nil
}

// waitCaughtUp polls the progress topic until every partition's stored
// progress reaches what was written to it: every record is then
// acknowledged by the target.
func (b *workerBed) waitCaughtUp(t *testing.T, written map[tp]int64, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	behind := 0
	for {
		ws, err := readProgress(ctx, b.target, b.srcAlias)
		if err == nil {
			latest := map[tp]int64{}
			for _, w := range ws {
				latest[w.tp] = w.end
			}
			behind = 0
			for _, p := range b.parts {
				if latest[p] < written[p] {
					behind++
				}
			}
			if behind == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after %s, %d of %d partitions still behind on the target (last read: %v)", within, behind, len(b.parts), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// copyReport is how a target partition compares to its source partition,
// by source sequence number.
type copyReport struct {
	records    int   // on the source
	duplicates int   // target records that repeat one copied before
	rewinds    int   // places where the target goes back to copy again
	maxDepth   int64 // the most records one rewind repeated
	missing    int   // source records not on the target
	jumps      int   // places where the target skips ahead (out of order)
	unknown    int   // target records with no source record
	// restarts are the sequences the rewinds restarted at.
	restarts []int64
}

func (r *copyReport) add(o copyReport) {
	r.records += o.records
	r.duplicates += o.duplicates
	r.rewinds += o.rewinds
	r.maxDepth = max(r.maxDepth, o.maxDepth)
	r.missing += o.missing
	r.jumps += o.jumps
	r.unknown += o.unknown
}

// compareSeqs compares the sequence of a target partition with the source
// one, 0..n-1. A correct copy is the source sequence where some stretches
// are repeated: each repeat (a rewind) goes back, then runs forward in
// order to where the copy had got, and the copy goes on from there.
func compareSeqs(n int64, got []int64) copyReport {
	r := copyReport{records: int(n)}
	seen := make([]bool, n)
	var next, prev int64 = 0, -1
	for _, s := range got {
		switch {
		case s < 0 || s >= n:
			r.unknown++
			continue
		case s == next:
			next++
		case s < next:
			r.duplicates++
			if s != prev+1 {
				r.rewinds++
				r.restarts = append(r.restarts, s)
				r.maxDepth = max(r.maxDepth, next-s)
			}
		default:
			r.jumps++
			next = s + 1
		}
		seen[s] = true
		prev = s
	}
	for _, ok := range seen {
		if !ok {
			r.missing++
		}
	}
	return r
}

// compare reads every partition from source and target and compares them:
// each target record must be its source record (key, value, headers,
// timestamp), in the order compareSeqs describes. restartOK says whether
// a rewind may restart at a sequence.
func (b *workerBed) compare(t *testing.T, written map[tp]int64, restartOK func(tp, int64) bool) copyReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var total copyReport
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, topic := range b.topics {
		src, err := readTopic(ctx, b.source, topic)
		if err != nil {
			t.Fatal(err)
		}
		tgt, err := readTopic(ctx, b.target, topic)
		if err != nil {
			t.Fatal(err)
		}
		for p := range int32(bedPartitions) {
			key := tp{topic, p}
			if int64(len(src[p])) != written[key] {
				fail("%s: %d records on the source, %d written", key, len(src[p]), written[key])
			}
			for i, r := range src[p] {
				if want := fmt.Sprintf("%s/%d/%d", topic, p, i); string(r.Value) != want {
					fail("%s: source offset %d holds %q, want %q", key, r.Offset, r.Value, want)
					break
				}
			}
			got := make([]int64, len(tgt[p]))
			for i, r := range tgt[p] {
				got[i] = -1
				v := string(r.Value)
				rest, ok := strings.CutPrefix(v, fmt.Sprintf("%s/%d/", topic, p))
				seq, err := strconv.ParseInt(rest, 10, 64)
				if !ok || err != nil || seq >= int64(len(src[p])) {
					fail("%s: target offset %d holds %q, not a record of this source partition", key, r.Offset, v)
					continue
				}
				if err := testbed.SameRecord(src[p][seq], r); err != nil {
					fail("%s: target offset %d differs from source offset %d: %v", key, r.Offset, seq, err)
				}
				got[i] = seq
			}
			rep := compareSeqs(int64(len(src[p])), got)
			if rep.missing+rep.jumps+rep.unknown > 0 {
				fail("%s: %d missing, %d out of order, %d unknown on the target", key, rep.missing, rep.jumps, rep.unknown)
			}
			for _, s := range rep.restarts {
				if !restartOK(key, s) {
					fail("%s: a rewind restarts at offset %d, which is no stored progress", key, s)
				}
			}
			total.add(rep)
		}
	}
	return total
}

// restartsAtProgress says whether a rewind restarts where a worker resumes:
// at a stored progress, or at the start when none was stored yet.
func restartsAtProgress(ws []progressWrite) func(tp, int64) bool {
	ends := map[tp]map[int64]bool{}
	for _, w := range ws {
		if ends[w.tp] == nil {
			ends[w.tp] = map[int64]bool{}
		}
		ends[w.tp][w.end] = true
	}
	return func(p tp, s int64) bool { return s == 0 || ends[p][s] }
}

func TestCompareSeqs(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int64
		got  []int64
		want copyReport
	}{
		{"identical", 4, []int64{0, 1, 2, 3}, copyReport{records: 4}},
		{"empty", 2, nil, copyReport{records: 2, missing: 2}},
		{"one rewind", 6, []int64{0, 1, 2, 3, 1, 2, 3, 4, 5},
			copyReport{records: 6, duplicates: 3, rewinds: 1, maxDepth: 3, restarts: []int64{1}}},
		{"two rewinds", 6, []int64{0, 1, 1, 2, 3, 4, 2, 3, 4, 5},
			copyReport{records: 6, duplicates: 4, rewinds: 2, maxDepth: 3, restarts: []int64{1, 2}}},
		{"rewind within a rewind", 5, []int64{0, 1, 2, 3, 1, 2, 0, 1, 2, 3, 4},
			copyReport{records: 5, duplicates: 6, rewinds: 2, maxDepth: 4, restarts: []int64{1, 0}}},
		{"the same record twice", 3, []int64{0, 1, 1, 2},
			copyReport{records: 3, duplicates: 1, rewinds: 1, maxDepth: 1, restarts: []int64{1}}},
		{"a gap", 4, []int64{0, 2, 3}, copyReport{records: 4, missing: 1, jumps: 1}},
		{"out of order", 4, []int64{0, 2, 1, 3},
			copyReport{records: 4, jumps: 1, duplicates: 1, rewinds: 1, maxDepth: 2, restarts: []int64{1}}},
		{"a record not on the source", 2, []int64{0, 7, 1}, copyReport{records: 2, unknown: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := compareSeqs(c.n, c.got); !reflect.DeepEqual(got, c.want) {
				t.Errorf("compareSeqs(%d, %v) = %+v, want %+v", c.n, c.got, got, c.want)
			}
		})
	}
}
