package mirror

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/mm2"
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
		ps = copying(r.flow, progress.Partition{Topic: topic, Partition: p})
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
	cfg.Flows[0].OffsetLagMax = 7

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
	for _, c := range cases {
		if n := checkMM2Syncs(t, tgt, "mm2-offset-syncs.source.internal", c.topic, c.records, tgt.Read(t, c.topic, 0), 7); n != 0 {
			t.Errorf("%d records of kmirror's segments in the offset-syncs topic, which never held one", n)
		}
	}
}

// checkMM2Syncs checks the MM2-format offset syncs of topic's partition 0
// in syncsTopic: each pairs a source record with its copy, one starts each
// run of copies whose offsets move one for one on both sides (every gap),
// and none lies more than lag offsets past the one before on the target,
// as MM2's own; so MM2's translation of any committed offset never goes
// past the exact one, and lands on it at every sync. It returns how many
// records of an older kmirror's map (segments moved out, and their
// tombstones, until compaction removes both) it passed over.
func checkMM2Syncs(t *testing.T, tgt *testbed.Cluster, syncsTopic, topic string, source, target []*kgo.Record, lag int64) (moved int) {
	t.Helper()
	bySource := map[int64]int{}
	for i, r := range source {
		bySource[r.Offset] = i
	}
	byTarget := map[int64]int{}
	for i, r := range target {
		byTarget[r.Offset] = i
	}
	var h mm2.History
	err := cluster.ScanTopic(t.Context(), []kgo.Opt{kgo.SeedBrokers(tgt.Addr)}, syncsTopic, func(r *kgo.Record) {
		if _, segment, _ := progress.DecodeSegmentKey(r.Key); segment {
			moved++ // a segment an older kmirror wrote, or its tombstone
			return
		}
		p, s, ok, err := mm2.DecodeSync(r.Key, r.Value)
		if !ok || err != nil {
			t.Errorf("%s: a record MM2 cannot read: key %x (%v)", syncsTopic, r.Key, err)
			return
		}
		if p.Topic == topic && p.Partition == 0 {
			h = h.Add(s)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) == 0 {
		t.Fatalf("%s: no offset sync of %s", syncsTopic, topic)
	}
	synced := map[int64]bool{}
	for i, s := range h {
		si, ok1 := bySource[s.Upstream]
		ti, ok2 := byTarget[s.Downstream]
		if !ok1 || !ok2 || si != ti {
			t.Errorf("%s: sync %d → %d pairs no record with its copy", topic, s.Upstream, s.Downstream)
			continue
		}
		synced[s.Upstream] = true
		if i > 0 && s.Downstream-(h[i-1].Downstream+1) > lag {
			t.Errorf("%s: syncs %v and %v lie more than %d apart", topic, h[i-1], s, lag)
		}
	}
	for i, r := range source {
		if i == 0 || r.Offset != source[i-1].Offset+1 || target[i].Offset != target[i-1].Offset+1 {
			if !synced[r.Offset] {
				t.Errorf("%s: no sync at the gap before source record %d (target %d)", topic, r.Offset, target[i].Offset)
			}
		}
	}
	// MM2's rule over these syncs: never past the exact translation (the
	// copy of the first record at or after g), and exact at each sync.
	for i, r := range source {
		exact := target[i].Offset
		got, ok := h.Translate(r.Offset)
		if !ok || got > exact || synced[r.Offset] && got != exact {
			t.Errorf("%s: MM2 translates %d to %d (%v), the exact copy is at %d", topic, r.Offset, got, ok, exact)
		}
	}
	return moved
}

// A kmirror that kept its exact map in the offset-syncs topic is
// upgraded: the next run moves the map into its own topic, translates as
// before, and leaves the offset-syncs topic to MM2's format.
func TestUpgradeMovesTheMapOutOfTheOffsetSyncs(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, identity)
	f := cfg.Flows[0]
	_, syncsTopic := f.OffsetSyncs()
	src.Produce(t, numbered("app-a", 0, 0, 50))
	r := start(t, cfg)
	r.partition(t, "app-a", 0, 50)
	r.stop(t)

	// What an older kmirror left: the segments in the offset-syncs topic,
	// none in the map's topic.
	var legacy []*kgo.Record
	scanTopic(t, tgt, f.OffsetMapTopic(), func(rec *kgo.Record) {
		legacy = append(legacy, &kgo.Record{Topic: syncsTopic, Key: rec.Key, Value: rec.Value},
			&kgo.Record{Topic: f.OffsetMapTopic(), Key: rec.Key})
	})
	if len(legacy) == 0 {
		t.Fatal("set-up: the first run wrote no segment")
	}
	if err := tgt.Client(t).ProduceSync(t.Context(), legacy...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	src.Produce(t, numbered("app-a", 0, 50, 100))
	r = start(t, cfg)
	ps := r.partition(t, "app-a", 0, 100)
	checkMap(t, "upgraded", ps, numberedOffsets(0, 100), 0, 100)
	r.stop(t)
	live := map[string][]byte{}
	scanTopic(t, tgt, syncsTopic, func(rec *kgo.Record) { live[string(rec.Key)] = rec.Value })
	for k, v := range live {
		if _, ok, _ := progress.DecodeSegmentKey([]byte(k)); ok && v != nil {
			t.Errorf("%s still holds a segment of the map, key %x", syncsTopic, k)
		}
	}
	segments := 0
	scanTopic(t, tgt, f.OffsetMapTopic(), func(rec *kgo.Record) {
		if rec.Value != nil {
			segments++
		}
	})
	if segments < 2 {
		t.Errorf("%s holds %d segments, want the moved one and the one the second run opened", f.OffsetMapTopic(), segments)
	}
	// The moved segments and their tombstones stay until compaction
	// removes them (the tombstones delete.retention.ms after it cleans
	// them); every other record is MM2's format.
	if n := checkMM2Syncs(t, tgt, syncsTopic, "app-a", src.Read(t, "app-a", 0), tgt.Read(t, "app-a", 0), int64(f.OffsetLagMax)); n == 0 {
		t.Error("set-up: no record of the moved segments in the offset-syncs topic")
	}
}

func numberedOffsets(from, to int64) []int64 {
	var out []int64
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

func scanTopic(t *testing.T, c *testbed.Cluster, topic string, take func(*kgo.Record)) {
	t.Helper()
	if err := cluster.ScanTopic(t.Context(), []kgo.Opt{kgo.SeedBrokers(c.Addr)}, topic, take); err != nil {
		t.Fatal(err)
	}
}
