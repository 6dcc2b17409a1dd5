package checkpoint

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/config"
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
	b := startBed(t, src, tgt, syncAll, false)
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: 20, LeaderEpoch: -1})
	if _, err := b.srcAdm.CommitOffsets(context.Background(), "app-g", o); err != nil {
		t.Fatal(err)
	}
	testbed.WaitFor(t, 30*time.Second, "app-g in sync", func() bool {
		g, ok := groupState(b, "app-g")
		return ok && len(g.Partitions) == 1 && g.Partitions[0].Reason == ReasonInSync
	})

	other, err := config.Parse(filepath.Join(t.TempDir(), "k.yaml"), []byte(testbed.NativeConfig(src, tgt, `    topicsPattern: "app-.*"
    groupsPattern: "billing-.*"
`)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.syncer.SetGroups(other.Flows[0])
	testbed.WaitFor(t, 30*time.Second, "app-g no longer followed", func() bool {
		_, ok := groupState(b, "app-g")
		return !ok
	})
	b.stop()
	if n := len(b.syncer.emitted); n != 0 {
		t.Errorf("%d checkpoints of unselected groups still remembered", n)
	}
}
