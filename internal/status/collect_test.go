package status_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// The status read from the clusters follows a consumer-first switch: lag
// falls to zero as the mirror copies; the group is not ready while its
// consumers run on the source, ready once they stopped and their offsets
// are synced, and switched when they run on the target. Stopping the
// mirror makes the lag rise again, in records and in seconds.
func TestCollectFollowsASwitch(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	produce := func(n int) { produceValues(t, src, "app-a", n, func(i int) int32 { return int32(i % 2) }) }
	produce(100)
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`)
	log := slog.New(slog.DiscardHandler)

	// A consumer of the group runs on the source and commits 60 records.
	member := src.Client(t, kgo.ConsumerGroup("app-g"), kgo.ConsumeTopics("app-a"), kgo.DisableAutoCommit())
	consumed := 0
	testbed.WaitFor(t, 20*time.Second, "the source member consuming", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		consumed += member.PollRecords(ctx, 60-consumed).NumRecords()
		return consumed >= 60
	})
	if err := member.CommitUncommittedOffsets(context.Background()); err != nil {
		t.Fatal(err)
	}

	_, stopMirror := runApp(t, cfg)

	c, err := status.New(cfg, log, status.Options{Partitions: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var r status.Report
	collect := func() (status.Flow, status.Group) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r = c.Collect(ctx)
		if len(r.Flows) != 1 || len(r.Flows[0].Errors) > 0 {
			t.Fatalf("report: %+v", r)
		}
		f := r.Flows[0]
		for _, g := range f.Groups {
			if g.Group == "app-g" {
				return f, g
			}
		}
		return f, status.Group{}
	}
	caughtUp := func(f status.Flow) bool {
		return len(f.Topics) == 1 && f.Topics[0].LagRecords == 0 && f.Topics[0].Copied == 100 && f.Topics[0].LagSeconds == 0
	}

	testbed.WaitFor(t, 30*time.Second, "caught up, the group not ready while its consumer runs on the source", func() bool {
		f, g := collect()
		return caughtUp(f) && g.Verdict == status.VerdictNotReady && g.ActiveOnSource == 1 && len(g.Partitions) == 2 &&
			strings.Contains(strings.Join(g.Reasons, "\n"), "1 consumers are still active on the source")
	})
	if f, _ := collect(); f.Topics[0].RecordsPerSecond == nil || f.Topics[0].Target != "source.app-a" {
		t.Errorf("a second sample has a rate and the target topic: %+v", f.Topics[0])
	}

	member.Close() // leaves the group
	testbed.WaitFor(t, 30*time.Second, "ready once the consumer stopped and its offsets are synced", func() bool {
		_, g := collect()
		return g.Verdict == status.VerdictReady && len(g.Reasons) == 0
	})
	// Both topics start empty, so the translation of each offset is itself.
	_, g := collect()
	var sum int64
	for _, p := range g.Partitions {
		sum += p.Source
		if p.State != status.StateInSync || p.Translated == nil || *p.Translated != p.Source || p.Target == nil || *p.Target != p.Source {
			t.Errorf("partition %d: %+v", p.Partition, p)
		}
	}
	if sum != 60 {
		t.Errorf("committed offsets add up to %d, want 60", sum)
	}

	// The consumers start on the target.
	onTarget := tgt.Client(t, kgo.ConsumerGroup("app-g"), kgo.ConsumeTopics("source.app-a"), kgo.DisableAutoCommit())
	onTarget.PollRecords(context.Background(), 1) // joins
	testbed.WaitFor(t, 30*time.Second, "switched", func() bool {
		_, g := collect()
		return g.Verdict == status.VerdictSwitched && g.ActiveOnTarget == 1
	})
	onTarget.Close()

	// Stop the mirror: what the source gets now lags, in records and in
	// the age of the oldest record not copied.
	stopMirror()
	produce(10)
	testbed.WaitFor(t, 10*time.Second, "lag while the mirror is stopped", func() bool {
		f, g := collect()
		return f.Topics[0].LagRecords == 10 && f.Topics[0].LagSeconds > 0 && g.Verdict == status.VerdictReady
	})
	lag := r.Flows[0].Topics[0].LagSeconds
	testbed.WaitFor(t, 10*time.Second, "the lag in seconds growing", func() bool {
		f, _ := collect()
		return f.Topics[0].LagSeconds > lag
	})
}
