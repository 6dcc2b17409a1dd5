package progress

import (
	"slices"
	"testing"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/testbed"
)

// A Cache reads the topics whole once, then only what was written since:
// a later Read sees new marks, new segments, tombstones and MM2 syncs, in
// the order they were written, and reads no record twice.
func TestCacheCatchesUp(t *testing.T) {
	f, tgt, store, c := storeAndCache(t)
	a, b, z := Partition{Topic: "app-a", Partition: 0}, Partition{Topic: "app-b", Partition: 1}, Partition{Topic: "app-z", Partition: 0}
	m := offsetmap.New(0, 0)
	if _, err := m.Observe(0, 0); err != nil {
		t.Fatal(err)
	}
	mark := func(_ Partition, m *offsetmap.Map) *Mark {
		return &Mark{ClusterID: "c", Start: m.Start(), End: m.End()}
	}
	zm := &Mark{ClusterID: "c", Start: 1, End: offsetmap.Segment{Source: 2, Target: 2}}
	if _, err := store.Flush(t.Context(), "w1", []Pending{{Partition: a, Segments: m.Segments(), Mark: mark(a, m)}, {Partition: z, Mark: zm}}); err != nil {
		t.Fatal(err)
	}
	snap, _, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := snap[a]; got.Map == nil || got.Map.End().Source != 1 || got.ClusterID != "c" {
		t.Fatalf("first read: %+v", snap)
	}
	// The records read so far are deleted: a cache that read the topic
	// whole again would lose z, which nothing writes again.
	if err := tgt.DeleteRecords(f.ProgressTopic(), 0, 2); err != nil {
		t.Fatal(err)
	}

	// More: a's map moves on (a new segment after a gap), b appears, MM2
	// left a sync of b, and a's first segment is deleted.
	if _, err := m.Observe(5, 1); err != nil {
		t.Fatal(err)
	}
	old := m.Segments()[0]
	pending := []Pending{
		{Partition: a, Segments: m.Segments()[1:], Deletes: []offsetmap.Segment{old}, Mark: mark(a, m)},
		{Partition: b, Mark: &Mark{ClusterID: "c", Start: 7, End: offsetmap.Segment{Source: 7, Target: 3}}},
	}
	if _, err := store.Flush(t.Context(), "w1", pending); err != nil {
		t.Fatal(err)
	}
	if err := store.CarryMM2(t.Context(), map[Partition]mm2.History{b: {{Upstream: 4, Downstream: 2}}}); err != nil {
		t.Fatal(err)
	}
	snap, hist, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := snap[a].Map; got.End().Source != 6 || len(got.Segments()) != 1 || got.Segments()[0].Source != 5 {
		t.Errorf("a after the second read: end %+v segments %+v", got.End(), got.Segments())
	}
	if got := snap[b]; got.Map == nil || got.Map.Start() != 7 || len(got.MM2) != 1 || len(hist[b]) != 1 {
		t.Errorf("b after the second read: %+v, MM2 %v", got, hist[b])
	}
	if tr, ok, _ := snap.Translate(t.Context(), b, 4); !ok || !tr.MM2 || tr.Offset != 2 {
		t.Errorf("b's offset 4 translates to %+v (%v), want 2 from MM2's sync", tr, ok)
	}
	if got := snap[z]; got.Written.IsZero() || got.Mark != (Mark{ClusterID: zm.ClusterID, TopicID: zm.TopicID, Start: zm.Start, End: zm.End, Written: got.Written}) {
		t.Errorf("z after the second read: %+v, want %+v: the cache read the topic whole again", got.Mark, *zm)
	}
}

// What a Read handed out does not change as the cache reads on, even when
// MM2 went back (a sync below the last one clears the history) or a saved
// map is copied on by a worker.
func TestCacheResultsAreNotChangedByLaterReads(t *testing.T) {
	_, _, store, c := storeAndCache(t)
	a := Partition{Topic: "app-a", Partition: 0}
	carry := func(s ...mm2.Sync) {
		t.Helper()
		if err := store.CarryMM2(t.Context(), map[Partition]mm2.History{a: s}); err != nil {
			t.Fatal(err)
		}
	}
	carry(mm2.Sync{Upstream: 10, Downstream: 5}, mm2.Sync{Upstream: 20, Downstream: 15})
	m := &Mark{ClusterID: "c", Start: 20, End: offsetmap.Segment{Source: 30, Target: 25}}
	if _, err := store.Flush(t.Context(), "w1", []Pending{{Partition: a, Segments: []offsetmap.Segment{{Source: 20, Target: 15, Count: 10}}, Mark: m}}); err != nil {
		t.Fatal(err)
	}
	snap, hist, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	held, heldHist := snap[a].MM2, hist[a]
	want := mm2.History{{Upstream: 10, Downstream: 5}, {Upstream: 20, Downstream: 15}}
	// A worker copies on from its own copy of the map.
	own := snap[a].CopyMap()
	if _, err := own.Observe(30, 25); err != nil {
		t.Fatal(err)
	}
	carry(mm2.Sync{Upstream: 3, Downstream: 1}) // MM2 went back
	if _, _, err := c.Read(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(held, want) || !slices.Equal(heldHist, want) {
		t.Errorf("a history handed out changed: %v and %v, want %v", held, heldHist, want)
	}
	if end := snap[a].Map.End(); end.Source != 30 {
		t.Errorf("the saved map moved with the worker's copy: end %+v", end)
	}
}

// A Read that races a flush never sees a mark without the segments
// written before it: the offset syncs are written first, so the reader
// reads the progress first, then the syncs up to their end after that.
// Each flush here moves a partition's end past a record whose segment is
// new, so a missing segment shows as a wrong translation.
func TestCacheNeverSeesAMarkWithoutItsSegments(t *testing.T) {
	_, _, store, c := storeAndCache(t)
	p := Partition{Topic: "app-a", Partition: 0}
	const flushes = 300
	done := make(chan error, 1)
	go func() {
		m := offsetmap.New(0, 0)
		for i := range int64(flushes) {
			// Source 2i went to target 3i: the delta changes every time.
			segs, err := m.Observe(2*i, 3*i)
			if err == nil {
				_, err = store.Flush(t.Context(), "w1", []Pending{{Partition: p, Segments: segs, Mark: &Mark{ClusterID: "c", Start: m.Start(), End: m.End()}}})
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	reads := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d reads raced %d flushes", reads, flushes)
			return
		default:
		}
		snap, _, err := c.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		reads++
		saved, ok := snap[p]
		if !ok {
			continue
		}
		last := saved.Map.End().Source - 1 // = 2i, copied to 3i
		if got, res := saved.Map.Translate(last); res != offsetmap.Exact || got != last/2*3 {
			t.Fatalf("read %d: the last copied record %d translates to %d %v, want %d: the read missed its segment (segments %v, end %v)",
				reads, last, got, res, last/2*3, saved.Map.Segments(), saved.Map.End())
		}
	}
}

// storeAndCache makes the Store of a flow between two fresh clusters and a
// Cache of what it writes, closed with the test; it returns the flow and
// its target too.
func storeAndCache(t *testing.T) (*config.Flow, *testbed.Cluster, *Store, *Cache) {
	t.Helper()
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"`)
	f := cfg.Flows[0]
	store := NewStore(f, tgt.Client(t), tgt.Client(t))
	if err := store.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, err := NewCache(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return f, tgt, store, c
}
