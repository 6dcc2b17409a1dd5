package mirror

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/testbed"
)

// kmirror takes over partitions MirrorMaker 2 copied: each continues after
// the last record MM2 copied — past MM2's committed position, and without
// one when MM2 was killed before its first commit — so that nothing is
// copied twice or lost; a partition MM2 never copied is copied from the
// start. Group offsets below the takeover translate as MM2 translates them,
// the others exactly.
func TestTakeOverFromMM2(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	topics := map[string]int32{"app-a": 3}
	if err := src.CreateTopic("app-a", 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := tgt.CreateTopic("app-a", 3, nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(14, 2))
	seq := 0
	for p := range int32(3) {
		recs := workload(rng, topics, 200, &seq)
		for _, r := range recs {
			r.Partition = p
		}
		src.Produce(t, recs)
	}
	testbed.LeaveMM2(t, &src.Brokers, &tgt.Brokers, "source", "app-a", map[int32]testbed.MM2Left{
		0: {Copied: 120, Committed: 100, SyncEvery: 50}, // copied 20 past its commit
		1: {Copied: 60, Committed: -1, SyncEvery: 50},   // killed before its first commit
	})

	r := start(t, flowConfig(t, src, tgt, identity))
	src.Produce(t, workload(rng, topics, 300, &seq))
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, time.Minute)
	sameTopic(t, src, tgt, "app-a", "app-a", 3)

	for _, c := range []struct {
		partition int32
		g, want   int64
		mm2       bool
	}{
		{partition: 0, g: 0, want: 0, mm2: true},      // MM2's sync at 0: exact
		{partition: 0, g: 30, want: 1, mm2: true},     // as MM2 translates: from its sync at 0
		{partition: 0, g: 100, want: 100, mm2: false}, // at or past the last sync (100): kmirror's exact map
		{partition: 0, g: 110, want: 110, mm2: false},
		{partition: 1, g: 55, want: 55, mm2: false},
		{partition: 1, g: 20, want: 1, mm2: true},
		{partition: 2, g: 20, want: 20, mm2: false},
	} {
		tr, ok := r.flow.Translate("app-a", c.partition, c.g)
		if !ok || tr.Result != offsetmap.Exact || tr.Offset != c.want || tr.MM2 != c.mm2 {
			t.Errorf("Translate(app-a[%d], %d) = %+v, %v; want %d (mm2 %v)", c.partition, c.g, tr, ok, c.want, c.mm2)
		}
	}
	r.stop(t)

	// A restart goes on from kmirror's own progress, and still translates
	// MM2's range as MM2 does.
	cfg := flowConfig(t, src, tgt, identity)
	f := cfg.Flows[0]
	stored, err := ReadStored(context.Background(), f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if tr, _ := stored.Translate("app-a", 0, 30); !tr.MM2 || tr.Offset != 1 {
		t.Errorf("stored Translate(app-a[0], 30) = %+v, want 1 as MM2 translates it", tr)
	}
	r = start(t, cfg)
	src.Produce(t, workload(rng, topics, 100, &seq))
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, time.Minute)
	r.stop(t)
	sameTopic(t, src, tgt, "app-a", "app-a", 3)
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
	cfg := flowConfig(t, src, tgt, identity)
	f := cfg.Flows[0]
	fl := NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), testLogger(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := fl.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "offset-syncs.topic.location") || !strings.Contains(err.Error(), "app-a[0]") {
		t.Fatalf("Run = %v, want an error naming the partition and offset-syncs.topic.location", err)
	}
}

// While a group of MM2's Connect workers has members on the target, MM2
// still runs, and kmirror does not take over.
func TestMM2RunningIsSeen(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	cfg := flowConfig(t, src, tgt, identity)
	f := cfg.Flows[0]
	fl := NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), testLogger(t))
	fl.tgtAdm = kadm.NewClient(tgt.Client(t))
	if err := tgt.CreateTopic("connect-configs", 1, nil); err != nil {
		t.Fatal(err)
	}
	worker := tgt.Client(t, kgo.ConsumerGroup("source-mm2"), kgo.ConsumeTopics("connect-configs"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testbed.WaitFor(t, 30*time.Second, "MM2's worker group seen", func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		worker.PollFetches(pctx) // joins the group
		pcancel()
		running, err := fl.mm2Running(ctx)
		return err == nil && strings.HasPrefix(running, "source-mm2")
	})
	worker.LeaveGroup()
	worker.Close()
	testbed.WaitFor(t, 30*time.Second, "MM2's worker group empty", func() bool {
		running, err := fl.mm2Running(ctx)
		return err == nil && running == ""
	})
}
