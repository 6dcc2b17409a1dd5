package mirror

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/testbed"
)

// Removing a topic from the selection while the flow runs (the seed's
// step (e)) stops copying it, leaves the other topics copying, and keeps
// its progress: adding it back resumes where it stopped, with no record
// lost or copied twice. refresh.topics.enabled=false, as in the seed, does
// not prevent the reload.
func TestReconfigureTheSelection(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	topics := map[string]int32{"app-a": 3, "app-b": 2}
	for name, n := range topics {
		if err := src.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(5, 9))
	seq := 0
	const noRefresh = `    topicsPattern: "app-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
        refresh.topics.enabled: false
`
	all := testbed.Config(t, src, tgt, noRefresh)
	r := start(t, all)
	src.Produce(t, workload(rng, topics, 2_000, &seq))
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a", "app-b": "app-b"}, 30*time.Second)

	onlyA := testbed.Config(t, src, tgt, `    topicsPattern: "app-a"
    sourceConnector:
      config:
        replication.policy.class: identity
        refresh.topics.enabled: false
`)
	r.flow.Reconfigure(onlyA.Flows[0])
	testbed.WaitFor(t, 30*time.Second, "app-b to be released", func() bool {
		parts, _, _ := r.flow.Status()
		for _, p := range parts {
			if p.Topic == "app-b" {
				return false
			}
		}
		return len(parts) == 3
	})
	bEnd := tgt.EndOffsets(t, "app-b")
	src.Produce(t, workload(rng, topics, 2_000, &seq))
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, 30*time.Second)
	for p, off := range tgt.EndOffsets(t, "app-b") {
		if off != bEnd[p] {
			t.Errorf("app-b[%d] was copied after it left the selection: %d → %d", p, bEnd[p], off)
		}
	}

	r.flow.Reconfigure(all.Flows[0])
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a", "app-b": "app-b"}, 30*time.Second)
	r.stop(t)
	for name, n := range topics {
		sameTopic(t, src, tgt, name, name, n)
	}
}
