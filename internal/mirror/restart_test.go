package mirror

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
)

const identity = `    topicsPattern: "app.*"
    sourceConnector:
      config:
        replication.policy.class: identity
`

// A clean stop in the middle of the stream persists exactly what was
// copied: the restart copies no record twice and loses none.
func TestCleanStopAndRestart(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { cleanStopAndRestart(t, mode.config) })
	}
}

// modes are the flow's two delivery modes, as identity's config.
var modes = []struct{ name, config string }{
	{"default mode", identity},
	{"exactly-once mode", identity + "        exactly.once.source.support: enabled\n"},
}

func cleanStopAndRestart(t *testing.T, identity string) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	topics := map[string]int32{"app-a": 6, "app-b": 3}
	for name, n := range topics {
		if err := src.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 9))
	seq := 0
	cfg := testbed.Config(t, src, tgt, identity)
	src.Produce(t, workload(rng, topics, 20_000, &seq))
	for round := range 5 {
		r := start(t, cfg)
		// Stop while records are still arriving and being copied.
		done := make(chan struct{})
		go func() {
			defer close(done)
			src.Produce(t, workload(rng, topics, 5_000, &seq))
		}()
		testbed.WaitFor(t, 30*time.Second, "some copying", func() bool {
			return tgt.TopicInfo("app-a") != nil && sum(tgt.EndOffsets(t, "app-a")) > int64(round*4000)
		})
		r.stop(t)
		<-done
	}
	r := start(t, cfg)
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a", "app-b": "app-b"}, time.Minute)
	r.stop(t)
	for name, n := range topics {
		sameTopic(t, src, tgt, name, name, n)
	}
}

func sum(m map[int32]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// Topics and partitions added on the source while kmirror runs are copied
// within 10 seconds (refresh.topics.interval.seconds defaults to 5).
func TestNewTopicsAndPartitionsArePickedUp(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { newTopicsArePickedUp(t, mode.config) })
	}
}

func newTopicsArePickedUp(t *testing.T, identity string) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 9))
	seq := 0
	src.Produce(t, workload(rng, map[string]int32{"app-a": 2}, 100, &seq))
	r := start(t, testbed.Config(t, src, tgt, identity))
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, 30*time.Second)

	if err := src.CreateTopic("app-new", 3, nil); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(src.Client(t))
	if _, err := adm.CreatePartitions(t.Context(), 2, "app-a"); err != nil {
		t.Fatal(err)
	}
	added := time.Now()
	src.Produce(t, workload(rng, map[string]int32{"app-a": 4, "app-new": 3}, 500, &seq))
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a", "app-new": "app-new"}, 10*time.Second)
	t.Logf("new topic and partitions copied %s after they were added", time.Since(added).Round(time.Millisecond))
	r.stop(t)
	sameTopic(t, src, tgt, "app-a", "app-a", 4)
	sameTopic(t, src, tgt, "app-new", "app-new", 3)
}

// With topic.creation.enable=false a missing or smaller target topic is
// reported, nothing is created, and the other topics are copied.
func TestTopicCreationDisabled(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for name, n := range map[string]int32{"app-ok": 2, "app-missing": 2, "app-small": 4} {
		if err := src.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	for name, n := range map[string]int32{"app-ok": 2, "app-small": 2} {
		if err := tgt.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 9))
	seq := 0
	src.Produce(t, workload(rng, map[string]int32{"app-ok": 2, "app-missing": 2, "app-small": 4}, 300, &seq))
	r := start(t, testbed.Config(t, src, tgt, identity+"        topic.creation.enable: false\n"))
	r.caughtUp(t, src, tgt, map[string]string{"app-ok": "app-ok"}, 30*time.Second)
	blocked := map[string]string{}
	testbed.WaitFor(t, 10*time.Second, "both topics reported", func() bool {
		for _, b := range r.flow.Blocked() {
			blocked[b.Topic] = b.Reason
		}
		return len(blocked) == 2
	})
	r.stop(t)
	sameTopic(t, src, tgt, "app-ok", "app-ok", 2)
	if want := `target topic "app-missing" does not exist; topic.creation.enable is false, so kmirror does not create it (create it with 2 partitions)`; blocked["app-missing"] != want {
		t.Errorf("app-missing: %q", blocked["app-missing"])
	}
	if want := `target topic "app-small" has 2 partitions, the source 4; topic.creation.enable is false, so kmirror does not add them`; blocked["app-small"] != want {
		t.Errorf("app-small: %q", blocked["app-small"])
	}
	if tgt.TopicInfo("app-missing") != nil {
		t.Error("app-missing was created")
	}
	if n := len(tgt.PartitionInfos("app-small")); n != 2 {
		t.Errorf("app-small has %d partitions on the target, want 2 untouched", n)
	}
	if got := sum(tgt.EndOffsets(t, "app-small")); got != 0 {
		t.Errorf("%d records copied into the smaller topic", got)
	}
}

// A produce error that retrying cannot fix stops the flow at once with an
// error naming the partition; it is never silent. In exactly-once mode
// too, where other errors only start the slot again.
func TestPermanentProduceErrorStopsTheFlow(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
			if err := src.CreateTopic("app-a", 1, nil); err != nil {
				t.Fatal(err)
			}
			if err := tgt.CreateTopic("app-a", 1, nil); err != nil {
				t.Fatal(err)
			}
			tgt.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "app-a", Err: kerr.TopicAuthorizationFailed, Count: -1})
			rng := rand.New(rand.NewPCG(4, 9))
			seq := 0
			src.Produce(t, workload(rng, map[string]int32{"app-a": 1}, 10, &seq))
			cfg := testbed.Config(t, src, tgt, mode.config)
			r := start(t, cfg)
			select {
			case err := <-r.done:
				r.cancel = nil
				if err == nil || !strings.Contains(err.Error(), "copy app-a[0] at offset 0") || !errors.Is(err, kerr.TopicAuthorizationFailed) {
					t.Fatalf("flow ended with %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the flow kept running after a permanent produce error")
			}
		})
	}
}
