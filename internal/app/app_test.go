package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// The app runs the copy, the group sync and the heartbeats of each flow,
// and reports their state through Report and its metrics.
func TestRunReportsStatus(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, []*kgo.Record{{Topic: "app-a", Partition: 0, Value: []byte("a")}, {Topic: "app-a", Partition: 1, Value: []byte("b")}})
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: 1, LeaderEpoch: -1})
	if _, err := kadm.NewClient(src.Client(t)).CommitOffsets(context.Background(), "app-group", o); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`)
	a := New(cfg, slog.New(slog.DiscardHandler), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	testbed.WaitFor(t, 30*time.Second, "a report with both partitions copied, the group in sync and a heartbeat", func() bool {
		r, ok := a.Report()
		if !ok || len(r.Flows) != 1 || r.Flows[0].Heartbeat == nil || len(r.Flows[0].Topics) != 1 || len(r.Flows[0].Groups) != 1 {
			return false
		}
		tp, g := r.Flows[0].Topics[0], r.Flows[0].Groups[0]
		return tp.Target == "source.app-a" && tp.Copied == 2 && tp.LagRecords == 0 &&
			g.Group == "app-group" && len(g.Partitions) == 1 && g.Partitions[0].State == status.StateInSync &&
			g.Partitions[0].TargetTopic == "source.app-a" && g.Partitions[0].Target != nil && *g.Partitions[0].Target == 1
	})
	// Each copied record's source→target latency was observed.
	families, err := a.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var observed uint64
	for _, f := range families {
		if f.GetName() == "kmirror_replication_latency_seconds" {
			for _, m := range f.GetMetric() {
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if observed != 2 {
		t.Errorf("%d latencies observed, want one per copied record (2)", observed)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
