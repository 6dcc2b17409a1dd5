package checkpoint

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/testbed"
)

// A group that leaves the selection (SetGroups, as SIGHUP does) is no
// longer followed, and what was emitted for it is forgotten.
func TestSetGroupsForgetsUnselectedGroups(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, records("app-a", 50))
	b := startBed(t, src, tgt, syncAll, bedOptions{manualRounds: true})
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: 20, LeaderEpoch: -1})
	if _, err := b.srcAdm.CommitOffsets(context.Background(), "app-g", o); err != nil {
		t.Fatal(err)
	}
	testbed.WaitFor(t, 30*time.Second, "app-g checkpointed", func() bool {
		st, err := b.syncer.Round(t.Context())
		return err == nil && st.Groups == 1 && st.Translated == 1 && len(b.syncer.emitted) == 1
	})

	other := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"
    groupsPattern: "billing-.*"
`)
	b.syncer.SetGroups(other.Flows[0])
	st, err := b.syncer.Round(t.Context())
	if err != nil || st.Groups != 0 {
		t.Errorf("round after the new selection: %+v, %v; want no group followed", st, err)
	}
	b.stop()
	if n := len(b.syncer.emitted); n != 0 {
		t.Errorf("%d checkpoints of unselected groups still remembered", n)
	}
}
