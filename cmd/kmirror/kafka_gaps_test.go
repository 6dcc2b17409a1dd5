package main_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// Offsets with gaps made by the brokers themselves — a compacted topic
// cleaned by the log cleaner (on kfake, kfake.Compact), transactions with
// aborted and committed records and their control records, a prefix removed
// with DeleteRecords — translate exactly: every source offset from the log
// start to the end maps, in the stored offset map, to the copy of the first
// record at or after it, and consumer groups committed inside the gaps are
// synced to exactly that offset on the target.
func TestBrokerMadeGapsTranslateExactly(t *testing.T) {
	src, tgt := clusters(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	compact, txn, deleted := uniq(t, "gaps-compact"), uniq(t, "gaps-txn"), uniq(t, "gaps-deleted")

	// The compacted topic: segments roll every 100 ms, so batches written
	// apart land in closed segments the cleaner may clean.
	src.createTopic(t, compact, 1, map[string]*string{
		"cleanup.policy": new("compact"), "segment.ms": new("100"),
		"min.cleanable.dirty.ratio": new("0.01"), "min.compaction.lag.ms": new("0"),
		"delete.retention.ms": new("100"),
	})
	const keys = 37
	producer := src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	tick := time.NewTicker(150 * time.Millisecond)
	for b := range 12 {
		var recs []*kgo.Record
		for i := b * 30; i < b*30+30; i++ {
			recs = append(recs, &kgo.Record{Topic: compact, Key: fmt.Appendf(nil, "k%d", i%keys), Value: fmt.Appendf(nil, "v%d", i)})
		}
		if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		<-tick.C // the next batch opens a new segment
	}
	tick.Stop()
	// One last record rolls the segment of the last batch; it stays alone
	// in the active segment, which the cleaner leaves.
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: compact, Key: []byte("last"), Value: []byte("last")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if src.kfake != nil {
		src.kfake.Compact()
	} else {
		// Fully cleaned, the partition keeps one record per key: nothing
		// is left for the cleaner to remove while kmirror copies.
		testbed.WaitFor(t, 2*time.Minute, "the log cleaner to compact "+compact, func() bool {
			return len(src.Read(t, compact, 0)) == keys+1
		})
	}

	// Transactions, every third aborted, with plain records in between.
	src.createTopic(t, txn, 1, nil)
	tx := src.Client(t, kgo.TransactionalID(uniq(t, "gaps-writer")), kgo.DefaultProduceTopic(txn), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 30 {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 1 + i%4 {
			tx.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "txn%d-%d", i, j)}, nil)
		}
		if err := tx.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		testbed.EndTransaction(t, ctx, tx, i%3 != 2)
		if i%5 == 0 {
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: txn, Value: fmt.Appendf(nil, "plain%d", i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A prefix deleted before kmirror starts.
	src.createTopic(t, deleted, 1, nil)
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Topic: deleted, Value: fmt.Appendf(nil, "d%d", i)})
	}
	src.Produce(t, recs)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: deleted, Partition: 0, At: 40})
	if resp, err := src.admin(t).DeleteRecords(ctx, del); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}

	// What a read_committed consumer of the source sees, as kmirror copies it.
	want := map[string][]*kgo.Record{
		compact: src.Read(t, compact, 0),
		txn:     src.Read(t, txn, 0, kgo.FetchIsolationLevel(kgo.ReadCommitted())),
		deleted: src.Read(t, deleted, 0),
	}
	if n := len(want[compact]); n >= 12*30 {
		t.Fatalf("set-up: %s kept %d of %d records: nothing compacted", compact, n, 12*30+1)
	}
	starts := map[string]int64{}
	for topic := range want {
		starts[topic] = logStart(t, src, topic)
	}
	t.Logf("compaction kept %d of %d records, offsets %d to %d; the log starts at %d",
		len(want[compact]), 12*30+1, want[compact][0].Offset, want[compact][len(want[compact])-1].Offset, starts[compact])
	if starts[deleted] != 40 {
		t.Fatalf("set-up: %s starts at %d after DeleteRecords to 40", deleted, starts[deleted])
	}

	// Groups committed on the source at offsets inside and around the gaps.
	groupPrefix := uniq(t, "gaps-group")
	committed := map[string]groupAt{}
	for topic, rs := range want {
		end := src.EndOffsets(t, topic)[0]
		for _, at := range sampleOffsets(starts[topic], end, rs) {
			g := fmt.Sprintf("%s-%s-%d", groupPrefix, topic, at)
			o := kadm.Offsets{}
			o.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
			if _, err := src.admin(t).CommitOffsets(ctx, g, o); err != nil {
				t.Fatal(err)
			}
			committed[g] = groupAt{topic, at}
		}
	}

	alias := uniq(t, "gaps-src")
	cfgPath := flowConfig(t, side{alias: alias, addr: src.Addr}, side{alias: "gaps-tgt", addr: tgt.Addr}, fmt.Sprintf(`    topicsPattern: "%s|%s|%s"
    groupsPattern: "%s-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
        consumer.isolation.level: read_committed
    checkpointConnector:
      config:
        sync.group.offsets.enabled: "true"
`, compact, txn, deleted, groupPrefix))
	w := runWorker(t, cfgPath)

	for topic, rs := range want {
		testbed.WaitFor(t, time.Minute, topic+" copied", func() bool {
			return tgt.EndOffsets(t, topic)[0] == int64(len(rs))
		})
		got := tgt.Read(t, topic, 0)
		if len(got) != len(rs) {
			t.Fatalf("%s: %d records on the target, want the %d the source keeps", topic, len(got), len(rs))
		}
		for i := range rs {
			if err := testbed.SameRecord(rs[i], got[i]); err != nil {
				t.Fatalf("%s record %d: %v", topic, i, err)
			}
		}
	}

	// The stored map, as a restarted worker and every command read it.
	cfg, err := config.Load(cfgPath, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Flows[0]
	var stored progress.Snapshot
	testbed.WaitFor(t, 30*time.Second, "the stored map to reach every end", func() bool {
		stored, err = progress.Read(ctx, f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), slog.New(slog.DiscardHandler))
		if err != nil {
			return false
		}
		for topic := range want {
			if tr, ok, _ := stored.Translate(ctx, progress.Partition{Topic: topic}, src.EndOffsets(t, topic)[0]); !ok || tr.Result != offsetmap.Exact {
				return false
			}
		}
		return true
	})
	for topic, rs := range want {
		end := src.EndOffsets(t, topic)[0]
		for g := starts[topic]; g <= end; g++ {
			tr, _, _ := stored.Translate(ctx, progress.Partition{Topic: topic}, g)
			if wantAt := firstAtOrAfter(rs, g); tr.Result != offsetmap.Exact || tr.MM2 || tr.Offset != wantAt {
				t.Fatalf("%s: source offset %d translates to %d (%v), want %d: the copy of the first record at or after it", topic, g, tr.Offset, tr.Result, wantAt)
			}
		}
	}

	// The groups, synced to the target.
	for g, c := range committed {
		wantAt := firstAtOrAfter(want[c.topic], c.at)
		var last int64 = -1
		testbed.WaitFor(t, time.Minute, fmt.Sprintf("group %s synced to %d", g, wantAt), func() bool {
			fetched, err := tgt.admin(t).FetchOffsets(ctx, g)
			if err != nil {
				return false
			}
			o, ok := fetched.Lookup(c.topic, 0)
			if ok {
				last = o.At
			}
			return ok && o.At == wantAt
		})
		if last != wantAt {
			t.Errorf("group %s at %s offset %d: target commit %d, want %d", g, c.topic, c.at, last, wantAt)
		}
	}
	stopWorker(t, w)
}

type groupAt struct {
	topic string
	at    int64
}

// firstAtOrAfter is the target offset of the copy of the first record at
// or after source offset g: its index among the copied records.
func firstAtOrAfter(rs []*kgo.Record, g int64) int64 {
	for i, r := range rs {
		if r.Offset >= g {
			return int64(i)
		}
	}
	return int64(len(rs))
}

// sampleOffsets picks source offsets to commit groups at: the log start,
// the end, and offsets that no copied record has (inside the gaps), with a
// few that do.
func sampleOffsets(start, end int64, rs []*kgo.Record) []int64 {
	has := map[int64]bool{}
	for _, r := range rs {
		has[r.Offset] = true
	}
	out := []int64{start, end}
	var gaps, kept int
	for o := start + 1; o < end; o++ {
		switch {
		case !has[o] && gaps < 6 && o%3 == 0:
			out = append(out, o)
			gaps++
		case has[o] && kept < 3 && o%7 == 0:
			out = append(out, o)
			kept++
		}
	}
	return out
}

// logStart is the first offset of a partition.
func logStart(t *testing.T, c *bedCluster, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	starts, err := c.admin(t).ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := starts.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("start offset of %s: %v", topic, o.Err)
	}
	return o.Offset
}

// stopWorker stops a worker with SIGTERM and fails the test unless it
// exits 0.
func stopWorker(t *testing.T, w *proc) {
	t.Helper()
	w.cmd.Process.Signal(sigterm)
	if code := w.exit(t, time.Minute); code != 0 {
		t.Fatalf("kmirror exited %d:\n%s", code, w.output())
	}
}
