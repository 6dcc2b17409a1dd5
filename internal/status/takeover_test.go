package status_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// After a takeover from MirrorMaker 2, status says per group and partition
// how an offset translates: "mm2" inside the range MM2 copied (from its
// offset syncs, or further from its own checkpoint of that offset, as the
// syncer commits it), "exact" in the range kmirror copied; every group is
// in sync, none reported ahead of its translation.
func TestStatusAfterTakeover(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, c := range []*testbed.Cluster{src, tgt} {
		if err := c.CreateTopic("app-a", 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Topic: "app-a", Value: fmt.Appendf(nil, "v%d", i)})
	}
	src.Produce(t, recs)
	testbed.LeaveMM2(t, &src.Brokers, &tgt.Brokers, testbed.MM2Flow{Source: "source", Target: "target"}, "app-a",
		map[int32]testbed.MM2Left{0: {Copied: 80, Committed: 80, SyncEvery: 25}})
	topic := "source.checkpoints.internal"
	if err := tgt.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	k, v, err := checkpoint.Record{Group: "app-old", Topic: "app-a", Partition: 0, Upstream: 40, Downstream: 35}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	tgt.Produce(t, []*kgo.Record{{Topic: topic, Key: k, Value: v}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for g, at := range map[string]int64{"app-old": 40, "app-fresh": 30, "app-new": 90} {
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: at, LeaderEpoch: -1})
		if _, err := kadm.NewClient(src.Client(t)).CommitOffsets(ctx, g, o); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"
    groupsPattern: "app-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
        sync.group.offsets.interval.seconds: 1
        emit.checkpoints.interval.seconds: 1
`)
	log := slog.New(slog.DiscardHandler)
	runApp(t, cfg)

	c, err := status.New(cfg, log, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	type state struct {
		by         string
		translated int64
		state      string
	}
	want := map[string]state{
		"app-old":   {status.TranslationMM2, 35, status.StateInSync},   // MM2's checkpoint goes further than its sync at 25
		"app-fresh": {status.TranslationMM2, 26, status.StateInSync},   // from MM2's sync at 25
		"app-new":   {status.TranslationExact, 90, status.StateInSync}, // kmirror copied it
	}
	var got map[string]state
	testbed.WaitFor(t, 30*time.Second, fmt.Sprintf("status %v", want), func() bool {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		r := c.Collect(cctx)
		got = map[string]state{}
		for _, f := range r.Flows {
			for _, g := range f.Groups {
				for _, p := range g.Partitions {
					s := state{by: p.Translation, state: p.State, translated: -1}
					if p.Translated != nil {
						s.translated = *p.Translated
					}
					got[g.Group] = s
				}
			}
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
}
