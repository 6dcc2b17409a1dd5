package verify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// mirrorAll runs the copy path of cfg's first flow until every partition of
// the topics is copied up to the source's current end, then stops it
// cleanly, so that the progress is persisted.
func mirrorAll(t testing.TB, cfg *config.Config, src *testbed.Cluster, topics ...string) {
	t.Helper()
	want := map[progress.Partition]int64{}
	for _, topic := range topics {
		for p, end := range src.EndOffsets(t, topic) {
			want[progress.Partition{Topic: topic, Partition: p}] = end
		}
	}
	f := cfg.Flows[0]
	fl := mirror.NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), nil, testbed.Logger(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the flow stopped with %v", err)
			}
		case <-time.After(mirror.StopTimeout + 10*time.Second):
			t.Error("the flow did not stop")
		}
	}
	defer stop()
	testbed.WaitFor(t, 30*time.Second, fmt.Sprintf("%v copied", topics), func() bool {
		parts, _, _ := fl.Status()
		n := 0
		for _, p := range parts {
			if end, ok := want[progress.Partition{Topic: p.Topic, Partition: p.Partition}]; ok && p.Next >= end {
				n++
			}
		}
		return n == len(want)
	})
}

// verify runs a verification that must not fail.
func verify(t testing.TB, cfg *config.Config, o Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, cfg, o, testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
