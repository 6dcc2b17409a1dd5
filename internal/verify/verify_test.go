package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/progress/progresstest"
	"github.com/kmirror/kmirror/internal/testbed"
)

// t0 is an hour ago: record timestamps must be within the topics' retention.
var t0 = time.Now().Add(-time.Hour).Truncate(time.Second)

// produceTransactions writes transactions to every partition of topic,
// every third one aborted, with plain records in between.
func produceTransactions(t *testing.T, src *testbed.Cluster, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	txn := src.Client(t, kgo.TransactionalID("writer-"+topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 12 {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 1 + i%3 {
			p := int32(j) % partitions
			txn.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "txn%d-%d", i, j),
				Timestamp: t0.Add(time.Duration(i) * time.Second)}, nil)
		}
		if err := txn.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(i%3 != 2)); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			src.Produce(t, []*kgo.Record{{Topic: topic, Partition: int32(i) % partitions, Value: fmt.Appendf(nil, "plain%d", i), Timestamp: t0}})
		}
	}
}

// keyed makes n records over a small key space, spread over partitions:
// null keys, tombstones, empty values and headers among them.
func keyed(topic string, partitions int32, n int) []*kgo.Record {
	var recs []*kgo.Record
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Key: fmt.Appendf(nil, "key-%d", i%7),
			Value: fmt.Appendf(nil, "value-%d", i), Timestamp: t0.Add(time.Duration(i) * time.Second)}
		switch i % 5 {
		case 1:
			r.Key = nil
		case 2:
			r.Value = nil
		case 3:
			r.Value = []byte{}
			r.Headers = []kgo.RecordHeader{{Key: "h1", Value: []byte("a")}, {Key: "h2"}, {Key: "h1", Value: []byte{}}}
		}
		recs = append(recs, r)
	}
	return recs
}

func TestIdenticalAfterMirroring(t *testing.T) {
	// Exactly-once mode reads the source read_committed and writes
	// transaction markers between the copies on the target.
	for _, isolation := range []string{"read_committed", "read_uncommitted", "exactly-once"} {
		t.Run(isolation, func(t *testing.T) {
			src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
			if err := src.CreateTopic("app-txn", 2, nil); err != nil {
				t.Fatal(err)
			}
			if err := src.CreateTopic("app-keys", 3, map[string]string{"cleanup.policy": "compact"}); err != nil {
				t.Fatal(err)
			}
			produceTransactions(t, src, "app-txn", 2)
			// Many batches, then compaction: the mirrored range has holes.
			for b := range 10 {
				recs := keyed("app-keys", 3, 60)
				for i, r := range recs {
					r.Value = fmt.Appendf(r.Value, "-batch%d", b)
					recs[i] = r
				}
				src.Produce(t, recs)
			}
			src.Compact()
			mirror := `    topicsPattern: "app-.*"`
			if isolation == "exactly-once" {
				mirror += "\n    sourceConnector:\n      config:\n        exactly.once.source.support: enabled\n        transaction.boundary.interval.ms: 50\n"
			}
			cfg := testbed.Config(t, src, tgt, mirror)
			cfg.Flows[0].Consumer.ReadCommitted = isolation != "read_uncommitted"
			mirrorAll(t, cfg, src, "app-txn", "app-keys")

			r := verify(t, cfg, Options{Topics: []string{"app-txn", "app-keys"}})
			if !r.Identical || len(r.Partitions) != 5 {
				t.Fatalf("not identical: %+v", r)
			}
			t.Logf("%+v", r.Total)
			var opts []kgo.Opt
			if isolation != "read_uncommitted" {
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			}
			for _, p := range r.Partitions {
				if p.TargetTopic != "source."+p.Topic || p.State != StateCompared {
					t.Errorf("%s[%d]: target %q, state %q", p.Topic, p.Partition, p.TargetTopic, p.State)
				}
				want := int64(len(src.Read(t, p.Topic, p.Partition, opts...)))
				if p.Compared != want || p.Identical != want {
					t.Errorf("%s[%d]: compared %d, identical %d; the source has %d records", p.Topic, p.Partition, p.Compared, p.Identical, want)
				}
			}
		})
	}
}

// TestMismatchesAreFound alters, removes and adds a record on the target,
// as a faulty copy or an operator would, and expects each to be named.
func TestMismatchesAreFound(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "orders"`)
	src.Produce(t, keyed("orders", 2, 20))
	mirrorAll(t, cfg, src, "orders")

	// Extra: a stray record on the target while the mirror is stopped;
	// the mirror then copies past it.
	tgt.Produce(t, []*kgo.Record{{Topic: "source.orders", Partition: 0, Value: []byte("stray")}})
	src.Produce(t, keyed("orders", 2, 4))
	mirrorAll(t, cfg, src, "orders")

	// Altered: a copy of source orders[0]@12 that lost a header and whose
	// value changed, recorded in the offset map as the mirror would.
	alterCopy(t, cfg, src, tgt, 0, func(r *kgo.Record) {
		r.Value = []byte("tampered")
		r.Headers = r.Headers[:1]
	})

	// Missing: the first two copies of orders[1] deleted on the target.
	adm := kadm.NewClient(tgt.Client(t))
	var o kadm.Offsets
	o.Add(kadm.Offset{Topic: "source.orders", Partition: 1, At: 2})
	if resp, err := adm.DeleteRecords(context.Background(), o); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}

	r := verify(t, cfg, Options{Topics: []string{"orders"}})
	if r.Identical {
		t.Fatal("identical")
	}
	want := []struct {
		partition int32
		counts    Counts
		first     Mismatch
	}{
		{0, Counts{Compared: 13, Identical: 12, Altered: 1, Extra: 1},
			Mismatch{Kind: Extra, SourceOffset: -1, TargetOffset: 10, Reason: reasonStranger}},
		{1, Counts{Compared: 12, Identical: 10, Missing: 2},
			Mismatch{Kind: Missing, SourceOffset: 0, TargetOffset: 0, Reason: reasonNoTarget}},
	}
	for i, w := range want {
		p := r.Partitions[i]
		if p.Partition != w.partition || p.Counts != w.counts || len(p.Mismatches) == 0 || !sameMismatch(p.Mismatches[0], w.first) {
			t.Errorf("orders[%d]: %+v, want %+v and first %+v", p.Partition, p, w.counts, w.first)
		}
	}
	altered := Mismatch{Kind: Altered, SourceOffset: 12, TargetOffset: 13, Fields: []string{"value", "headers"}}
	if ms := r.Partitions[0].Mismatches; len(ms) != 2 || !sameMismatch(ms[1], altered) {
		t.Errorf("orders[0] mismatches %+v, want the extra and %+v", ms, altered)
	}
	if r.Total.Counts != (Counts{Compared: 25, Identical: 22, Altered: 1, Missing: 2, Extra: 1}) {
		t.Errorf("total %+v", r.Total)
	}
}

func sameMismatch(a, b Mismatch) bool {
	return a.Kind == b.Kind && a.SourceOffset == b.SourceOffset && a.TargetOffset == b.TargetOffset &&
		slices.Equal(a.Fields, b.Fields) && a.Reason == b.Reason
}

// alterCopy stands for a copy path that corrupts a record: with the mirror
// stopped, it copies the next source record of a partition (one produced
// now) to the target changed by alter, and records the pair in the stored
// offset map as the mirror does.
func alterCopy(t *testing.T, cfg *config.Config, src, tgt *testbed.Cluster, partition int32, alter func(*kgo.Record)) {
	t.Helper()
	f := cfg.Flows[0]
	srcCfg, tgtCfg := cfg.Cluster(f.Source), cfg.Cluster(f.Target)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stored, err := progress.Read(ctx, f, srcCfg, tgtCfg, testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	tp := progress.Partition{Topic: "orders", Partition: partition}
	sp := stored[tp]
	end := sp.Map.End()
	if srcEnd := src.EndOffsets(t, "orders")[partition]; srcEnd != end.Source {
		t.Fatalf("set-up: source end %d, mirrored end %d", srcEnd, end.Source)
	}
	orig := &kgo.Record{Topic: "orders", Partition: partition, Key: []byte("k"), Value: []byte("original"), Timestamp: t0,
		Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}}
	src.Produce(t, []*kgo.Record{orig})
	// A new record, not a copy of orig: a produced record keeps the
	// context it was produced with.
	cp := kgo.Record{Topic: "source.orders", Partition: partition, Key: orig.Key, Value: orig.Value, Timestamp: orig.Timestamp,
		Headers: slices.Clone(orig.Headers)}
	alter(&cp)
	tgt.Produce(t, []*kgo.Record{&cp})
	if cp.Offset != end.Target || orig.Offset != end.Source {
		t.Fatalf("set-up: copied %d→%d, mirrored end %d→%d", orig.Offset, cp.Offset, end.Source, end.Target)
	}
	segs := append(slices.Clone(sp.Map.Segments()), offsetmap.Segment{Source: orig.Offset, Target: cp.Offset, Count: 1})
	sp.Map = offsetmap.Restore(sp.Map.Start(), offsetmap.Segment{Source: orig.Offset + 1, Target: cp.Offset + 1}, segs)
	if err := progresstest.Write(ctx, f, srcCfg, tgtCfg, tp, sp); err != nil {
		t.Fatal(err)
	}
}

func TestFromTimestamp(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("events", 2, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, keyed("events", 2, 40)) // record i at t0 + i s
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "events"`)
	mirrorAll(t, cfg, src, "events")
	tests := []struct {
		name     string
		from     time.Time
		start    [2]int64 // first source offset compared per partition
		compared int64
	}{
		{"zero compares the mirrored range", time.Time{}, [2]int64{0, 0}, 40},
		{"from the 31st record", t0.Add(30 * time.Second), [2]int64{15, 15}, 10},
		{"between records", t0.Add(30*time.Second + time.Millisecond), [2]int64{16, 15}, 9},
		{"after the last record", t0.Add(time.Hour), [2]int64{20, 20}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := verify(t, cfg, Options{Topics: []string{"events"}, From: tt.from})
			if !r.Identical || r.Total.Compared != tt.compared {
				t.Errorf("identical %v, compared %d, want %d", r.Identical, r.Total.Compared, tt.compared)
			}
			for _, p := range r.Partitions {
				if p.Source.From != tt.start[p.Partition] || p.Target.From != tt.start[p.Partition] {
					t.Errorf("events[%d]: source %+v, target %+v, want from %d", p.Partition, p.Source, p.Target, tt.start[p.Partition])
				}
			}
		})
	}
}

func TestNotMirroredAndNotSelected(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, name := range []string{"copied", "other"} {
		if err := src.CreateTopic(name, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	src.Produce(t, keyed("copied", 1, 3))
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "copied, late, absent"
    sourceConnector:
      config:
        replication.policy.class: identity`)
	mirrorAll(t, cfg, src, "copied")
	// Created after the mirror stopped: nothing is stored for it.
	if err := src.CreateTopic("late", 1, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, keyed("late", 1, 3))

	r := verify(t, cfg, Options{Topics: []string{"copied", "late"}})
	if r.Identical || r.Total.NotMirrored != 1 || r.Partitions[1].State != StateNotMirrored || r.Total.Compared != 3 {
		t.Errorf("%+v", r)
	}

	_, err := Run(context.Background(), cfg, Options{Topics: []string{"copied", "other", "__consumer_offsets"}}, testbed.Logger(t))
	var ns *NotSelectedError
	if !errors.As(err, &ns) || !slices.Equal(ns.Topics, []string{"other", "__consumer_offsets"}) {
		t.Errorf("err = %v", err)
	}
	_, err = Run(context.Background(), cfg, Options{Topics: []string{"absent"}}, testbed.Logger(t))
	if err == nil || errors.As(err, &ns) || !strings.Contains(err.Error(), `topic "absent" on source cluster "source"`) {
		t.Errorf("err = %v", err)
	}
}
