package status_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/app"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/testbed"
)

// produceValues writes n records "v0", "v1"… to topic on c, the i-th to
// partition partitionOf(i).
func produceValues(t *testing.T, c *testbed.Cluster, topic string, n int, partitionOf func(i int) int32) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range n {
		recs[i] = &kgo.Record{Topic: topic, Partition: partitionOf(i), Value: fmt.Appendf(nil, "v%d", i)}
	}
	c.Produce(t, recs)
}

// runApp runs `kmirror run` of cfg in the background; stop stops it
// cleanly and fails the test on an error. The test's end stops it too.
func runApp(t *testing.T, cfg *config.Config) (a *app.App, stop func()) {
	t.Helper()
	a = app.New(cfg, testbed.Logger(t), app.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	t.Cleanup(stop)
	return a, stop
}
