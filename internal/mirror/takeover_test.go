package mirror

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// kmirror takes over partitions MirrorMaker 2 copied: each continues after
// the last record MM2 copied — past MM2's committed position, and without
// one when MM2 was killed before its first commit — so that nothing is
// copied twice or lost; a partition MM2 never copied is copied from the
// start. Group offsets below the takeover translate as MM2 translates them,
// the others exactly. MM2's syncs may be on either cluster (MM2's default
// is the source): those are carried over to kmirror's offset-syncs topic,
// so that a restart still translates MM2's range.
func TestTakeOverFromMM2(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	topics := map[string]int32{"app-a": 3, "app-b": 2}
	same := map[string]string{"app-a": "app-a", "app-b": "app-b"}
	rng := rand.New(rand.NewPCG(14, 2))
	seq := 0
	for name, n := range topics {
		for _, c := range []*testbed.Cluster{src, tgt} {
			if err := c.CreateTopic(name, n, nil); err != nil {
				t.Fatal(err)
			}
		}
		for p := range n {
			recs := workload(rng, map[string]int32{name: 1}, 200, &seq)
			for _, r := range recs {
				r.Partition = p
			}
			src.Produce(t, recs)
		}
	}
	testbed.LeaveMM2(t, &src.Brokers, &tgt.Brokers, testbed.MM2Flow{Source: "source", Target: "target"}, "app-a", map[int32]testbed.MM2Left{
		0: {Copied: 120, Committed: 100, SyncEvery: 50}, // copied 20 past its commit
		1: {Copied: 60, Committed: -1, SyncEvery: 50},   // killed before its first commit
	})
	testbed.LeaveMM2(t, &src.Brokers, &tgt.Brokers, testbed.MM2Flow{Source: "source", Target: "target", SyncsOnSource: true}, "app-b", map[int32]testbed.MM2Left{
		0: {Copied: 90, Committed: 80, SyncEvery: 40},
	})

	r := start(t, testbed.Config(t, src, tgt, identity))
	src.Produce(t, workload(rng, topics, 300, &seq))
	r.caughtUp(t, src, tgt, same, time.Minute)
	for name, n := range topics {
		sameTopic(t, src, tgt, name, name, n)
	}

	for _, c := range []struct {
		topic     string
		partition int32
		g, want   int64
		mm2       bool
	}{
		{"app-a", 0, 0, 0, true},      // MM2's sync at 0: exact
		{"app-a", 0, 30, 1, true},     // as MM2 translates: from its sync at 0
		{"app-a", 0, 100, 100, false}, // at or past the last sync (100): kmirror's exact map
		{"app-a", 0, 110, 110, false},
		{"app-a", 1, 55, 55, false},
		{"app-a", 1, 20, 1, true},
		{"app-a", 2, 20, 20, false}, // MM2 never copied it
		{"app-b", 0, 50, 41, true},  // from MM2's sync at 40, on the source
		{"app-b", 0, 85, 85, false},
		{"app-b", 1, 5, 5, false},
	} {
		tr, ok, _ := r.flow.View(Own).Translate(t.Context(), progress.Partition{Topic: c.topic, Partition: c.partition}, c.g)
		if !ok || tr.Result != offsetmap.Exact || tr.Offset != c.want || tr.MM2 != c.mm2 {
			t.Errorf("Translate(%s[%d], %d) = %+v, %v; want %d (mm2 %v)", c.topic, c.partition, c.g, tr, ok, c.want, c.mm2)
		}
	}
	r.stop(t)

	// A restart goes on from kmirror's own progress, and still translates
	// MM2's range as MM2 does.
	cfg := testbed.Config(t, src, tgt, identity)
	f := cfg.Flows[0]
	stored, err := progress.Read(context.Background(), f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if tr, _, _ := stored.Translate(t.Context(), progress.Partition{Topic: "app-a"}, 30); !tr.MM2 || tr.Offset != 1 {
		t.Errorf("stored Translate(app-a[0], 30) = %+v, want 1 as MM2 translates it", tr)
	}
	if tr, _, _ := stored.Translate(t.Context(), progress.Partition{Topic: "app-b"}, 50); !tr.MM2 || tr.Offset != 41 {
		t.Errorf("stored Translate(app-b[0], 50) = %+v, want 41 as MM2 translates it from its syncs carried over", tr)
	}
	r = start(t, cfg)
	src.Produce(t, workload(rng, topics, 100, &seq))
	r.caughtUp(t, src, tgt, same, time.Minute)
	r.stop(t)
	for name, n := range topics {
		sameTopic(t, src, tgt, name, name, n)
	}
}

// MM2 committed a position but left no offset sync where kmirror looks:
// kmirror does not guess where the copies are, and says which key to set.
func TestTakeOverWithoutSyncsFails(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, c := range []*testbed.Cluster{src, tgt} {
		if err := c.CreateTopic("app-a", 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	src.Produce(t, []*kgo.Record{{Topic: "app-a", Value: []byte("v")}})
	tgt.Produce(t, []*kgo.Record{{Topic: "app-a", Value: []byte("v")}})
	offsets := mm2.OffsetsTopics("source")[0]
	if err := tgt.CreateTopic(offsets, 1, nil); err != nil {
		t.Fatal(err)
	}
	tgt.Produce(t, []*kgo.Record{{Topic: offsets, Key: []byte(`["MirrorSourceConnector",{"cluster":"source","partition":0,"topic":"app-a"}]`), Value: []byte(`{"offset":0}`)}})
	cfg := testbed.Config(t, src, tgt, identity)
	f := cfg.Flows[0]
	fl := NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), nil, testbed.Logger(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := fl.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "offset-syncs.topic.location") || !strings.Contains(err.Error(), "app-a[0]") || !strings.Contains(err.Error(), "mm2-offset-syncs.source.internal") {
		t.Fatalf("Run = %v, want an error naming the partition and offset-syncs.topic.location", err)
	}
}

// The plan of a takeover reads MM2's positions from the Connect offsets
// topic the target's config names (offset.storage.topic), and writes
// nothing.
func TestPlanTakeover(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, c := range []*testbed.Cluster{src, tgt} {
		if err := c.CreateTopic("app-a", 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(14, 3))
	seq := 0
	src.Produce(t, workload(rng, map[string]int32{"app-a": 1}, 50, &seq))
	testbed.LeaveMM2(t, &src.Brokers, &tgt.Brokers, testbed.MM2Flow{Source: "source", Target: "target", OffsetsTopic: "my-connect-offsets"}, "app-a",
		map[int32]testbed.MM2Left{0: {Copied: 40, Committed: 35, SyncEvery: 15}})
	cfg := testbed.Config(t, src, tgt, identity)
	f := cfg.Flows[0]
	cfg.Cluster(f.Target).ConnectOffsetsTopic = "my-connect-offsets"
	ends := tgt.EndOffsets(t, "app-a")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	plan, err := PlanTakeover(ctx, f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), []discover.Topic{{Source: "app-a", Target: "app-a", Partitions: 1}}, testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []TakenOver{{Topic: "app-a", Partition: 0, MM2Next: 35, OffsetsTopic: "my-connect-offsets", Anchor: mm2.Sync{Upstream: 30, Downstream: 30}, Resume: 40}}
	if fmt.Sprint(plan.Partitions) != fmt.Sprint(want) || plan.Running != "" || plan.Err != nil {
		t.Errorf("PlanTakeover = %+v, want partitions %+v, MM2 not running", plan, want)
	}
	if got := tgt.EndOffsets(t, "app-a"); fmt.Sprint(got) != fmt.Sprint(ends) {
		t.Errorf("the plan wrote to the target: %v, was %v", got, ends)
	}
	for _, topic := range []string{f.ProgressTopic()} {
		if tgt.TopicInfo(topic) != nil {
			t.Errorf("the plan created %s", topic)
		}
	}
}

// While a group of MM2's Connect workers has members on the target, MM2
// still runs, and kmirror does not take over: dedicated mode's group, or
// the one the target's config names (group.id).
func TestMM2RunningIsSeen(t *testing.T) {
	for _, group := range []string{"source-mm2", "my-connect"} {
		t.Run(group, func(t *testing.T) { mm2RunningIsSeen(t, group) })
	}
}

func mm2RunningIsSeen(t *testing.T, group string) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	cfg := testbed.Config(t, src, tgt, identity)
	f := cfg.Flows[0]
	cfg.Cluster(f.Target).ConnectGroup = "my-connect"
	sr := &starter{conn: &conn{tgtAdm: kadm.NewClient(tgt.Client(t))}, cfg: f, tgt: cfg.Cluster(f.Target)}
	if err := tgt.CreateTopic("connect-configs", 1, nil); err != nil {
		t.Fatal(err)
	}
	worker := tgt.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics("connect-configs"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testbed.WaitFor(t, 30*time.Second, "MM2's worker group seen", func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		worker.PollFetches(pctx) // joins the group
		pcancel()
		running, err := sr.mm2Running(ctx)
		return err == nil && strings.HasPrefix(running, group)
	})
	worker.LeaveGroup()
	worker.Close()
	testbed.WaitFor(t, 30*time.Second, "MM2's worker group empty", func() bool {
		running, err := sr.mm2Running(ctx)
		return err == nil && running == ""
	})
}

// After a hand-back MirrorMaker 2 copied on past kmirror's progress, and
// kmirror takes the partitions back from it: from MM2's last offset sync,
// whichever cluster MM2 wrote it on, past the records MM2 copied after its
// last commit — not by comparing everything MM2 copied since — so that
// nothing is copied twice. Below the new start groups translate as MM2
// does, from kmirror's own MM2-format syncs and MM2's.
func TestTakeBackAfterHandBack(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, c := range []*testbed.Cluster{src, tgt} {
		if err := c.CreateTopic("app-a", 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(30, 4))
	seq := 0
	topics, same := map[string]int32{"app-a": 2}, map[string]string{"app-a": "app-a"}
	src.Produce(t, workload(rng, topics, 400, &seq))
	r := start(t, testbed.Config(t, src, tgt, identity))
	r.caughtUp(t, src, tgt, same, time.Minute)
	r.stop(t)
	kmirrorEnd := tgt.EndOffsets(t, "app-a")

	// MM2 copies on from where kmirror stopped, and 30 records past its
	// last commit; it writes its syncs on the target for one partition, on
	// the source (its default) for the other.
	src.Produce(t, workload(rng, topics, 400, &seq))
	ends := src.EndOffsets(t, "app-a")
	want := []TakenOver{}
	for p, onSource := range []bool{false, true} {
		p := int32(p)
		from, copied := kmirrorEnd[p], ends[p]-5
		anchor := (copied - 1) / 50 * 50 // its last sync
		testbed.LeaveMM2(t, &src.Brokers, &tgt.Brokers, testbed.MM2Flow{Source: "source", Target: "target", SyncsOnSource: onSource}, "app-a",
			map[int32]testbed.MM2Left{p: {From: from, Copied: copied, Committed: copied - 30, SyncEvery: 50}})
		want = append(want, TakenOver{Topic: "app-a", Partition: p, MM2Next: copied - 30, OffsetsTopic: mm2.OffsetsTopics("source")[0],
			Anchor: mm2.Sync{Upstream: anchor, Downstream: anchor}, Resume: copied})
	}
	cfg := testbed.Config(t, src, tgt, identity)
	f := cfg.Flows[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	listed, err := kadm.NewClient(src.Client(t)).ListTopics(ctx, "app-a")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanTakeover(ctx, f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), []discover.Topic{{Source: "app-a", Target: "app-a", ID: listed["app-a"].ID, Partitions: 2}}, testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(plan.Partitions) != fmt.Sprint(want) {
		t.Errorf("PlanTakeover after MM2 copied on = %+v, want %+v", plan.Partitions, want)
	}

	r = start(t, cfg)
	src.Produce(t, workload(rng, topics, 100, &seq))
	r.caughtUp(t, src, tgt, same, time.Minute)
	sameTopic(t, src, tgt, "app-a", "app-a", 2)
	for p, end := range src.EndOffsets(t, "app-a") {
		if tr, ok, _ := r.flow.View(Own).Translate(t.Context(), progress.Partition{Topic: "app-a", Partition: p}, end-3); !ok || tr.Result != offsetmap.Exact || tr.MM2 || tr.Offset != end-3 {
			t.Errorf("Translate(app-a[%d], %d) = %+v, %v; want exact, past the new start", p, end-3, tr, ok)
		}
	}

	for p := range int32(2) {
		// kmirror's range, from its own syncs; MM2's, from MM2's.
		for _, g := range []int64{kmirrorEnd[p] / 2, kmirrorEnd[p] + 60} {
			tr, ok, _ := r.flow.View(Own).Translate(t.Context(), progress.Partition{Topic: "app-a", Partition: p}, g)
			if !ok || tr.Result != offsetmap.Exact || !tr.MM2 || tr.Offset > g || tr.Offset < g-100 {
				t.Errorf("Translate(app-a[%d], %d) = %+v, %v; want as MM2 translates, from a sync at most 100 records below", p, g, tr, ok)
			}
		}
	}
	r.stop(t)
	// What a checkpoint round outside the workers reads: the same.
	stored, err := progress.Read(ctx, f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range src.EndOffsets(t, "app-a") {
		if tr, ok, _ := stored.Translate(t.Context(), progress.Partition{Topic: "app-a", Partition: p}, end-3); !ok || tr.Result != offsetmap.Exact || tr.MM2 || tr.Offset != end-3 {
			t.Errorf("stored Translate(app-a[%d], %d) = %+v, %v; want exact, past the new start", p, end-3, tr, ok)
		}
		if tr, ok, _ := stored.Translate(t.Context(), progress.Partition{Topic: "app-a", Partition: p}, kmirrorEnd[p]/2); !ok || !tr.MM2 {
			t.Errorf("stored Translate(app-a[%d], %d) = %+v, %v; want as MM2 translates", p, kmirrorEnd[p]/2, tr, ok)
		}
	}
}
