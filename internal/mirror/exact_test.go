package mirror

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// checkMap checks the translation of every source offset g from 0 to the
// end: below the source log start, expired; above, the target offset of the
// first copied record at or after g, which on an empty target is that
// record's index among the copied ones.
func checkMap(t *testing.T, label string, ps *partition, copied []int64, logStart, end int64) {
	t.Helper()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	m := ps.m
	next := 0
	for g := int64(0); g <= end; g++ {
		for next < len(copied) && copied[next] < g {
			next++
		}
		got, res := m.Translate(g)
		if g < logStart {
			if res != offsetmap.Expired {
				t.Fatalf("%s: Translate(%d) below the log start %d = %d %v, want expired", label, g, logStart, got, res)
			}
			continue
		}
		if res != offsetmap.Exact || got != int64(next) {
			t.Fatalf("%s: Translate(%d) = %d %v, want %d (first copied record at or after it)", label, g, got, res, next)
		}
	}
	if _, res := m.Translate(end + 1); res != offsetmap.NotYetMirrored {
		t.Errorf("%s: Translate(end+1) = %v", label, res)
	}
}

func logStart(t *testing.T, src *testbed.Cluster, topic string) int64 {
	return src.PartitionInfo(topic, 0).LogStartOffset
}

func (r *running) partition(t *testing.T, topic string, p int32, end int64) *partition {
	t.Helper()
	var ps *partition
	testbed.WaitFor(t, 30*time.Second, fmt.Sprintf("%s[%d] mirrored to offset %d", topic, p, end), func() bool {
		r.flow.mu.Lock()
		ps = r.flow.parts[progress.Partition{Topic: topic, Partition: p}]
		r.flow.mu.Unlock()
		return ps != nil && ps.end().Source >= end
	})
	return ps
}

func TestTransactionsAndCompactionTranslateExactly(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-txn", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateTopic("app-compact", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Transactions: every third one aborted, and plain records in between.
	txn := src.Client(t, kgo.TransactionalID("writer"), kgo.DefaultProduceTopic("app-txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	plain := src.Client(t, kgo.DefaultProduceTopic("app-txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 30 {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 1 + i%4 {
			txn.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("txn%d-%d", i, j))}, nil)
		}
		if err := txn.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		testbed.EndTransaction(t, ctx, txn, i%3 != 2)
		if i%5 == 0 {
			if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint("plain", i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A compacted topic with repeated keys, then compaction.
	// Many batches: compaction keeps the last one whole.
	for b := range 20 {
		var recs []*kgo.Record
		for i := b * 20; i < b*20+20; i++ {
			recs = append(recs, &kgo.Record{Topic: "app-compact", Key: []byte(fmt.Sprint("k", i%37)), Value: []byte(fmt.Sprint("v", i))})
		}
		src.Produce(t, recs)
	}
	src.Compact()

	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
`)
	cfg.Flows[0].Consumer.ReadCommitted = true

	committed := src.Read(t, "app-txn", 0, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	compacted := src.Read(t, "app-compact", 0)
	if len(compacted) >= 400 || len(committed) == 0 {
		t.Fatalf("set-up: %d compacted records of 400, %d committed", len(compacted), len(committed))
	}
	cases := []struct {
		topic   string
		records []*kgo.Record
	}{{"app-txn", committed}, {"app-compact", compacted}}

	r := start(t, cfg)
	for _, c := range cases {
		end := src.EndOffsets(t, c.topic)[0]
		ps := r.partition(t, c.topic, 0, end)
		got := tgt.Read(t, c.topic, 0)
		if len(got) != len(c.records) {
			t.Fatalf("%s: %d records on the target, want exactly the %d committed/retained ones", c.topic, len(got), len(c.records))
		}
		var offsets []int64
		for i := range got {
			if err := testbed.SameRecord(c.records[i], got[i]); err != nil {
				t.Fatalf("%s record %d: %v", c.topic, i, err)
			}
			offsets = append(offsets, c.records[i].Offset)
		}
		checkMap(t, c.topic+" live", ps, offsets, logStart(t, src, c.topic), end)
	}
	r.stop(t)

	// The map restored from the offset-syncs and progress topics after a
	// restart translates the same.
	r = start(t, cfg)
	for _, c := range cases {
		end := src.EndOffsets(t, c.topic)[0]
		ps := r.partition(t, c.topic, 0, end)
		var offsets []int64
		for _, rec := range c.records {
			offsets = append(offsets, rec.Offset)
		}
		checkMap(t, c.topic+" restored", ps, offsets, logStart(t, src, c.topic), end)
	}
	r.stop(t)
}
