package progress

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/testbed"
)

// A flush writes the exact map to its own topic and MM2-format syncs to
// the offset-syncs topic: every record there is one MirrorMaker 2 reads.
func TestFlushKeepsTheOffsetSyncsMM2s(t *testing.T) {
	f, tgt, store, c := storeAndCache(t)
	a := Partition{Topic: "app-a", Partition: 0}
	m := &Mark{ClusterID: "c", Start: 0, End: offsetmap.Segment{Source: 250, Target: 260}}
	segs := []offsetmap.Segment{{Source: 0, Target: 0, Count: 100}, {Source: 110, Target: 120, Count: 140}}
	syncs := []mm2.Sync{{Upstream: 0, Downstream: 0}, {Upstream: 110, Downstream: 120}, {Upstream: 211, Downstream: 221}}
	if _, err := store.Flush(t.Context(), "w1", []Pending{{Partition: a, Segments: segs, Syncs: syncs, Mark: m}}); err != nil {
		t.Fatal(err)
	}
	_, syncsTopic := f.OffsetSyncs()
	var read []mm2.Sync
	scan(t, tgt, syncsTopic, func(r *kgo.Record) {
		p, s, ok, err := mm2.DecodeSync(r.Key, r.Value)
		if !ok || err != nil || p != a {
			t.Errorf("%s holds a record MM2 cannot read: key %x (%v)", syncsTopic, r.Key, err)
		}
		read = append(read, s)
	})
	if !slices.Equal(read, syncs) {
		t.Errorf("%s holds %v, want %v", syncsTopic, read, syncs)
	}
	var inMap int
	scan(t, tgt, f.OffsetMapTopic(), func(r *kgo.Record) {
		if _, ok, err := DecodeSegmentKey(r.Key); !ok || err != nil {
			t.Errorf("%s holds a record that is no segment: key %x", f.OffsetMapTopic(), r.Key)
		}
		inMap++
	})
	if inMap != len(segs) {
		t.Errorf("%s holds %d records, want the %d segments", f.OffsetMapTopic(), inMap, len(segs))
	}
	snap, hist, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := snap[a].Map.Segments(); !slices.Equal(got, segs) {
		t.Errorf("the map read back holds %v, want %v", got, segs)
	}
	// kmirror's own syncs lie in its map's range: the history keeps none
	// past its start, so it does not grow with the copying.
	if h := hist[a]; len(h) > 1 {
		t.Errorf("the MM2 history keeps kmirror's own syncs: %v", h)
	}
}

// An older kmirror kept its map in the offset-syncs topic. Its segments
// still count, and MoveLegacy moves them to the map's topic, leaving the
// offset-syncs topic to MM2's format (tombstones until compaction) without
// a translation lost on the way.
func TestLegacySegmentsAreMoved(t *testing.T) {
	f, tgt, store, c := storeAndCache(t)
	a := Partition{Topic: "app-a", Partition: 0}
	_, syncsTopic := f.OffsetSyncs()
	old := []offsetmap.Segment{{Source: 0, Target: 0, Count: 100}, {Source: 110, Target: 120, Count: 0}}
	var recs []*kgo.Record
	for _, s := range old {
		k, v := EncodeSegment(a.Topic, a.Partition, s)
		recs = append(recs, &kgo.Record{Topic: syncsTopic, Key: k, Value: v})
	}
	if err := tgt.Client(t).ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	m := &Mark{ClusterID: "c", Start: 0, End: offsetmap.Segment{Source: 250, Target: 260}}
	if _, err := store.Flush(t.Context(), "w1", []Pending{{Partition: a, Mark: m}}); err != nil {
		t.Fatal(err)
	}
	translate := func(when string) {
		t.Helper()
		snap, _, err := c.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for g, want := range map[int64]int64{0: 0, 99: 99, 100: 120, 110: 120, 200: 210, 250: 260} {
			if got, ok, _ := snap.Translate(t.Context(), a, g); !ok || got.Offset != want || got.Result != offsetmap.Exact {
				t.Errorf("%s: %d translates to %+v, want %d", when, g, got, want)
			}
		}
	}
	translate("before the move")
	legacy := c.Legacy()
	if len(legacy[a]) != 2 {
		t.Fatalf("legacy segments %v, want the 2 written", legacy)
	}
	if n, err := store.MoveLegacy(t.Context(), legacy); n != 2 || err != nil {
		t.Fatalf("moved %d: %v", n, err)
	}
	translate("after the move")
	if legacy := c.Legacy(); len(legacy) != 0 {
		t.Errorf("still legacy after the move: %v", legacy)
	}
	live := map[string]bool{}
	scan(t, tgt, syncsTopic, func(r *kgo.Record) { live[string(r.Key)] = r.Value != nil })
	for k, v := range live {
		if v {
			t.Errorf("%s still holds a segment, key %x", syncsTopic, k)
		}
	}
}

func scan(t *testing.T, c *testbed.Cluster, topic string, take func(*kgo.Record)) {
	t.Helper()
	if err := cluster.ScanTopic(t.Context(), []kgo.Opt{kgo.SeedBrokers(c.Addr)}, topic, take); err != nil {
		t.Fatal(err)
	}
}
