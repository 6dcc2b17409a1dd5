package mirror

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kmirror/kmirror/internal/testbed"
)

// The progress names the source cluster: pointing a configuration at
// another cluster is a start-up error, not a mix-up.
func TestProgressOfAnotherSourceCluster(t *testing.T) {
	first := testbed.NewCluster(t, kfake.ClusterID("cluster-one"))
	tgt := testbed.NewCluster(t)
	if err := first.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	first.Produce(t, numbered("app-a", 0, 0, 10))
	r := start(t, testbed.Config(t, first, tgt, identity))
	r.partition(t, "app-a", 0, 10)
	r.stop(t)

	other := testbed.NewCluster(t, kfake.ClusterID("cluster-two"))
	if err := other.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	r = start(t, testbed.Config(t, other, tgt, identity))
	select {
	case err := <-r.done:
		r.cancel = nil
		if err == nil || !strings.Contains(err.Error(), "was written for source cluster cluster-one, but \"source\" is cluster cluster-two") {
			t.Fatalf("flow ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the flow ran against another source cluster")
	}
}

// The progress names the source topic: a topic deleted and created again
// is reported and not copied on top of the old copy.
func TestRecreatedSourceTopic(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateTopic("app-b", 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, identity)
	src.Produce(t, numbered("app-a", 0, 0, 10))
	r := start(t, cfg)
	r.partition(t, "app-a", 0, 10)
	r.stop(t)

	if err := src.DeleteTopic("app-a"); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, numbered("app-a", 0, 100, 105))
	src.Produce(t, numbered("app-b", 0, 0, 5))
	r = start(t, cfg)
	r.caughtUp(t, src, tgt, map[string]string{"app-b": "app-b"}, 30*time.Second)
	testbed.WaitFor(t, 10*time.Second, "the recreated topic reported", func() bool {
		for _, b := range r.flow.Blocked() {
			if b.Topic == "app-a" && strings.Contains(b.Reason, "deleted and created again") {
				return true
			}
		}
		return false
	})
	parts, _, _ := r.flow.Status()
	for _, p := range parts {
		if p.Topic == "app-a" {
			t.Errorf("the recreated topic is being copied: %+v", p)
		}
	}
	if n := len(tgt.Read(t, "app-a", 0)); n != 10 {
		t.Errorf("%d records in the target app-a, want the 10 of the first topic only", n)
	}
	r.stop(t)
}

// With consumer.auto.offset.reset=latest a partition with no progress
// starts at the source end: older records are not copied.
func TestStartAtLatest(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, numbered("app-a", 0, 0, 10))
	cfg := testbed.Config(t, src, tgt, identity)
	cfg.Flows[0].Consumer.StartAt = "latest"
	r := start(t, cfg)
	r.partition(t, "app-a", 0, 10)
	src.Produce(t, numbered("app-a", 0, 10, 15))
	r.partition(t, "app-a", 0, 15)
	got := tgt.Read(t, "app-a", 0)
	if len(got) != 5 || string(got[0].Value) != "10" {
		t.Errorf("%d records on the target, first %q; want the 5 produced after the start", len(got), got[0].Value)
	}
	r.stop(t)
}
