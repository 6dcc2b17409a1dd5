package checkpoint

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// After kmirror took over from MirrorMaker 2, a group committed inside the
// range MM2 copied translates as MM2 translates it: from MM2's offset
// syncs, or further from a checkpoint MM2 emitted for the same committed
// offset (when a sync since compacted away was closer), never less.
func TestMM2CheckpointsKeepTheirTranslation(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, c := range []*testbed.Cluster{src, tgt} {
		if err := c.CreateTopic("app-a", 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	src.Produce(t, records("app-a", 100))
	testbed.LeaveMM2(t, &src.Brokers, &tgt.Brokers, testbed.MM2Flow{Source: "source", Target: "target"}, "app-a",
		map[int32]testbed.MM2Left{0: {Copied: 100, Committed: 100, SyncEvery: 25, SyncsFrom: 25}})
	// MM2 checkpointed app-old at 40 → 35, from a sync at 34 it no
	// longer holds (its syncs at 25, 50 and 75 are left).
	topic := "source.checkpoints.internal"
	if err := tgt.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for _, c := range []Record{
		{Group: "app-old", Topic: "app-a", Partition: 0, Upstream: 40, Downstream: 35},
		// Below MM2's first sync left: only the checkpoint translates it.
		{Group: "app-older", Topic: "app-a", Partition: 0, Upstream: 10, Downstream: 8},
	} {
		k, v := encode(t, c)
		recs = append(recs, &kgo.Record{Topic: topic, Key: k, Value: v})
	}
	tgt.Produce(t, recs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for g, at := range map[string]int64{"app-old": 40, "app-fresh": 40, "app-older": 10} {
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: at, LeaderEpoch: -1})
		if _, err := kadm.NewClient(src.Client(t)).CommitOffsets(ctx, g, o); err != nil {
			t.Fatal(err)
		}
	}
	b := startBed(t, src, tgt, syncAll, bedOptions{})
	want := map[string]int64{"app-old": 35, "app-fresh": 26, "app-older": 8} // app-fresh: from MM2's sync at 25
	got := map[string]int64{}
	testbed.WaitFor(t, 30*time.Second, fmt.Sprintf("the target groups at %v", want), func() bool {
		for g := range want {
			resp, err := b.tgtAdm.FetchOffsets(ctx, g)
			if err != nil {
				return false
			}
			o, _ := resp.Lookup("app-a", 0)
			got[g] = o.At
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
}
