package mirror

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// running is a flow running in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
	flow   *Flow
}

func start(t *testing.T, cfg *config.Config) *running {
	t.Helper()
	return startFlow(t, cfg, nil)
}

// startFlow runs a worker of cfg's flow, with back the flow the other way
// (or nil).
func startFlow(t *testing.T, cfg *config.Config, back *config.Flow) *running {
	t.Helper()
	f := cfg.Flows[0]
	fl := NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), back, testbed.Logger(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), flow: fl}
	go func() { r.done <- fl.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop stops the flow cleanly and fails the test if it did not.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("flow stopped with %v", err)
		}
	case <-time.After(StopTimeout + 10*time.Second):
		t.Fatal("flow did not stop")
	}
}

// workload makes records for the topics: some with null keys, tombstones,
// headers, all with explicit timestamps.
func workload(rng *rand.Rand, topics map[string]int32, n int, seq *int) []*kgo.Record {
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	var out []*kgo.Record
	for range n {
		*seq++
		name := names[rng.IntN(len(names))]
		r := &kgo.Record{
			Topic:     name,
			Partition: rng.Int32N(topics[name]),
			Timestamp: time.UnixMilli(1_600_000_000_000 + int64(*seq)),
			Key:       []byte(fmt.Sprintf("k%d", rng.IntN(1000))),
			Value:     []byte(fmt.Sprintf("v%d-%d", *seq, rng.Int64())),
		}
		switch rng.IntN(10) {
		case 0:
			r.Key = nil
		case 1:
			r.Value = nil // tombstone
		case 2:
			r.Headers = []kgo.RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: nil}, {Key: "h1", Value: []byte("dup")}}
		case 3:
			r.Value = []byte{}
		}
		out = append(out, r)
	}
	return out
}

// sameTopic checks that every partition of the target topic holds exactly
// the source partition's records, in order, as a read_committed reader
// sees them.
func sameTopic(t *testing.T, src, tgt *testbed.Cluster, source, target string, partitions int32) int {
	t.Helper()
	compared := 0
	for p := range partitions {
		a, b := src.Read(t, source, p), tgt.Read(t, target, p, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		compared += len(a)
		if len(a) != len(b) {
			t.Errorf("%s[%d]: %d records on the source, %d on the target", source, p, len(a), len(b))
			continue
		}
		for i := range a {
			if err := testbed.SameRecord(a[i], b[i]); err != nil {
				t.Errorf("%s[%d] record %d: %v", source, p, i, err)
				break
			}
		}
	}
	return compared
}

// caughtUp waits until the flow has copied every source record of the
// topics to the target (acknowledged, or in exactly-once mode committed),
// and the target topics exist.
func (r *running) caughtUp(t *testing.T, src, tgt *testbed.Cluster, topics map[string]string, within time.Duration) {
	t.Helper()
	testbed.WaitUntil(t, within, "the target to catch up", func() error {
		select {
		case err := <-r.done:
			r.cancel = nil
			t.Fatalf("the flow ended early: %v", err)
		default:
		}
		var behind []string
		for s, d := range topics {
			if tgt.TopicInfo(d) == nil {
				behind = append(behind, d+" missing")
				continue
			}
			for p, end := range src.EndOffsets(t, s) {
				c, ok, err := r.flow.View(Own).Copied(t.Context(), progress.Partition{Topic: s, Partition: p})
				if err != nil || !ok || c.Next != end {
					behind = append(behind, fmt.Sprintf("%s[%d] %d/%d", s, p, c.Next, end))
				}
			}
		}
		if len(behind) > 0 {
			return fmt.Errorf("behind: %v", behind)
		}
		return nil
	})
}

var seedTopics = map[string]int32{"app1-t1": 8, "app1-t2": 8, "app2-t1": 8, "app3-t1": 4, "app3-t2": 4}

func TestReplicatesEveryRecord(t *testing.T) {
	tests := []struct {
		name     string
		mirror   string
		selected []string
		remote   func(string) string
	}{
		{
			name: "identity, the seed's topic list",
			mirror: `    topicsPattern: "app1-t1, app1-t2, app2-t1, app3-t1, app3-t2"
    sourceConnector:
      config:
        replication.policy.class: io.strimzi.kafka.connect.mirror.IdentityReplicationPolicy
`,
			selected: []string{"app1-t1", "app1-t2", "app2-t1", "app3-t1", "app3-t2"},
			remote:   func(s string) string { return s },
		},
		{
			name: "default policy, the seed's topic list",
			mirror: `    topicsPattern: "app1-t1, app1-t2, app2-t1, app3-t1, app3-t2"
`,
			selected: []string{"app1-t1", "app1-t2", "app2-t1", "app3-t1", "app3-t2"},
			remote:   func(s string) string { return "source." + s },
		},
		{
			name: "default policy, the seed's regex",
			mirror: `    topicsPattern: "^app1.*|app2.*$"
`,
			selected: []string{"app1-t1", "app1-t2", "app2-t1"},
			remote:   func(s string) string { return "source." + s },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
			all := map[string]int32{"other": 2, "app4-x": 2}
			for name, n := range seedTopics {
				all[name] = n
			}
			for name, n := range all {
				if err := src.CreateTopic(name, n, nil); err != nil {
					t.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(7, 8))
			seq := 0
			// The seed's five topics get about 5/7 of the records: over
			// 100 000 of them.
			n := 150_000
			if testing.Short() {
				n = 20_000
			}
			src.Produce(t, workload(rng, all, n/2, &seq))
			r := start(t, testbed.Config(t, src, tgt, tt.mirror))
			src.Produce(t, workload(rng, all, n/2, &seq)) // while it runs
			pairs := map[string]string{}
			for _, s := range tt.selected {
				pairs[s] = tt.remote(s)
			}
			r.caughtUp(t, src, tgt, pairs, 2*time.Minute)
			r.stop(t)
			compared := 0
			for s, d := range pairs {
				compared += sameTopic(t, src, tgt, s, d, all[s])
			}
			// The selected topics hold about their share of the records.
			if min := n * len(pairs) / len(all) / 2; compared < min {
				t.Errorf("compared %d records, expected at least %d", compared, min)
			}
			t.Logf("%d records identical on the target", compared)
			for name := range all {
				if _, ok := pairs[name]; ok {
					continue
				}
				for _, candidate := range []string{name, "source." + name} {
					if tgt.TopicInfo(candidate) != nil {
						t.Errorf("%s was copied to %s though not selected", name, candidate)
					}
				}
			}
		})
	}
}

// copying returns the partition of key k the worker copies, or nil.
func copying(fl *Flow, k progress.Partition) *partition {
	if r := fl.run.Load(); r != nil {
		return r.copier.partition(k)
	}
	return nil
}

// TestNoLinger: a record is copied at once whatever producer.linger.ms
// says. With franz-go's linger a lone record would wait all 59 seconds,
// as its batch never fills.
func TestNoLinger(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("orders", 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "orders"
`)
	cfg.Flows[0].Producer.Linger = 59 * time.Second // franz-go allows a minute at most
	r := start(t, cfg)
	src.Produce(t, []*kgo.Record{{Topic: "orders", Value: []byte("alone")}})
	r.caughtUp(t, src, tgt, map[string]string{"orders": "source.orders"}, 30*time.Second)
	r.stop(t)
	sameTopic(t, src, tgt, "orders", "source.orders", 1)
}
