package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/testbed"
)

// The app runs the copy, the group sync and the heartbeats of each flow,
// and reports their state through Status.
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
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "k.yaml"), []byte(testbed.NativeConfig(src, tgt, `    topicsPattern: "app-.*"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	testbed.WaitFor(t, 30*time.Second, "status with partitions, the group in sync and a heartbeat", func() bool {
		st := a.Status()
		if len(st) != 1 || len(st[0].Partitions) != 2 || st[0].Heartbeat.IsZero() || len(st[0].Groups) != 1 {
			return false
		}
		for _, p := range st[0].Partitions {
			if p.Latency <= 0 {
				return false
			}
		}
		g := st[0].Groups[0]
		return g.Group == "app-group" && len(g.Partitions) == 1 && g.Partitions[0].Reason == checkpoint.ReasonInSync &&
			g.Partitions[0].TargetTopic == "source.app-a" && g.Partitions[0].Target == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
