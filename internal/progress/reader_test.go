package progress

import (
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/testbed"
)

// A Pair's View translates a flow's offsets through the map of the flow
// that copies the other way, as persisted on the clusters; a later read
// catches up with what was written since, with the clients it has.
func TestPairTranslatesThroughThePairAndCatchesUp(t *testing.T) {
	a, b := testbed.NewCluster(t), testbed.NewCluster(t)
	cfg, f, paired := testbed.BothWays(t, a, b, "app-.*")
	// Both maps of a migration there and back, persisted as each flow's
	// workers persist them.
	out, in, pairs := pairedMaps(t)
	p := Partition{Topic: "app-t", Partition: 0}
	clusters := map[string]*testbed.Cluster{"source": a, "target": b}
	save(t, clusters, f, p, out)
	save(t, clusters, paired, p, in)

	reader, err := NewReader(f, paired, cfg.Cluster(f.Source), cfg.Cluster(f.Target), testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	v, err := reader.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for g := int64(0); g <= 21; g++ {
		tr, ok, err := v.Translate(t.Context(), p, g)
		if err != nil || !ok || tr.Result != offsetmap.Exact || tr.Target != p.Topic {
			t.Fatalf("Translate(%d) = %+v %v %v", g, tr, ok, err)
		}
		for _, pr := range pairs {
			if (pr[0] < g) != (pr[1] < tr.Offset) {
				t.Fatalf("A offset %d translates to B offset %d, but the record at A %d is at B %d", g, tr.Offset, pr[0], pr[1])
			}
		}
	}
	// The flow's map alone skips B's records b0…b4 (B 11…15).
	if own, _ := out.Translate(10); own != 16 {
		t.Fatalf("set-up: A->B's map alone translates A offset 10 to %d, want 16", own)
	}
	if tr, _, _ := v.Translate(t.Context(), p, 10); tr.Offset != 11 {
		t.Errorf("Translate(10) = %d, want 11 through the paired flow's map", tr.Offset)
	}
	back, err := reader.Pair(t.Context())
	if err != nil || back[p].Map == nil || back[p].Map.End() != in.End() {
		t.Fatalf("the paired flow's snapshot: %v %v", back, err)
	}

	// The records read so far are deleted: a reader that read the topic
	// whole again would lose p's progress, which nothing writes again.
	if err := b.DeleteRecords(f.ProgressTopic(), 0, 1); err != nil {
		t.Fatal(err)
	}
	q := Partition{Topic: "app-t", Partition: 1}
	qm := offsetmap.New(5, 7)
	if _, err := qm.Observe(5, 7); err != nil {
		t.Fatal(err)
	}
	save(t, clusters, f, q, qm)
	// Every new client, and every new connection, begins with ApiVersions:
	// none is made to catch up.
	var connects atomic.Int32
	for _, cl := range []*testbed.Cluster{a, b} {
		cl.ControlKey(kmsg.ApiVersions.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
			connects.Add(1)
			return nil, nil, false
		})
	}
	own, err := reader.Own(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := own[q].Map; got == nil || got.End() != (offsetmap.Segment{Source: 6, Target: 8}) {
		t.Errorf("q after catching up: %+v", own[q])
	}
	if got := own[p].Map; got == nil || got.End() != out.End() {
		t.Errorf("p after catching up: %+v: the reader read the topic whole again", own[p])
	}
	v, err = reader.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tr, ok, err := v.Translate(t.Context(), q, 5); err != nil || !ok || tr.Offset != 7 || tr.Result != offsetmap.Exact {
		t.Errorf("Translate(q, 5) = %+v %v %v", tr, ok, err)
	}
	if n := connects.Load(); n > 0 {
		t.Errorf("catching up opened %d connections", n)
	}
}

// A Pair of a flow without a paired flow hands out its snapshot as its
// View, and no paired snapshot.
func TestPairWithoutAPairedFlow(t *testing.T) {
	a, b := testbed.NewCluster(t), testbed.NewCluster(t)
	cfg := testbed.Config(t, a, b, `    topicsPattern: "app-.*"`)
	f := cfg.Flows[0]
	p := Partition{Topic: "app-a", Partition: 0}
	m := offsetmap.New(3, 0)
	if _, err := m.Observe(3, 0); err != nil {
		t.Fatal(err)
	}
	save(t, map[string]*testbed.Cluster{"source": a, "target": b}, f, p, m)
	reader, err := NewReader(f, cfg.SameNamePair(f), cfg.Cluster(f.Source), cfg.Cluster(f.Target), testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	v, err := reader.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.(Snapshot); !ok || s[p].Map == nil || s[p].Map.End().Source != 4 {
		t.Errorf("View = %#v, want the flow's snapshot", v)
	}
	if s, err := reader.Pair(t.Context()); s != nil || err != nil {
		t.Errorf("Pair = %v %v, want nothing", s, err)
	}
	reader.Close() // and again at cleanup
}

// save persists m as flow f's map of partition p, as its workers do; the
// clusters are by alias.
func save(t *testing.T, clusters map[string]*testbed.Cluster, f *config.Flow, p Partition, m *offsetmap.Map) {
	t.Helper()
	syncsAt, _ := f.OffsetSyncs()
	store := NewStore(f, clusters[syncsAt].Client(t), clusters[f.Target].Client(t))
	if err := store.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	mark := &Mark{ClusterID: f.Source, Start: m.Start(), End: m.End()}
	if _, err := store.Flush(t.Context(), "w1", []Pending{{Partition: p, Segments: m.Segments(), Mark: mark}}); err != nil {
		t.Fatal(err)
	}
}
