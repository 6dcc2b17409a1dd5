package checkpoint

import (
	"context"
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

// A syncer made after a reload (Options.Groups, as the App does when the
// reload came before the syncer) follows the reloaded selection from its
// first round.
func TestSyncerStartsFromTheReloadedGroups(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"
    groupsPattern: "app-.*"
`)
	f := cfg.Flows[0]
	if err := tgt.CreateTopic(f.Replication.CheckpointsTopic(f.Source), 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	srcAdm := kadm.NewClient(src.Client(t))
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: 7, LeaderEpoch: -1})
	if _, err := srcAdm.CommitOffsets(t.Context(), "app-g", o); err != nil {
		t.Fatal(err)
	}
	reloaded := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"
    groupsPattern: "billing-.*"
`).Flows[0]
	for _, tc := range []struct {
		name   string
		groups *config.Flow
		want   int
	}{
		{"flow's own", nil, 1},
		{"reloaded", reloaded, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSyncer(f, src.Client(t), tgt.Client(t), identical{}, testbed.Logger(t), Options{Groups: tc.groups})
			st, err := s.Round(t.Context())
			if err != nil || st.Groups != tc.want {
				t.Errorf("first round: %+v, %v; want %d groups followed", st, err, tc.want)
			}
		})
	}
}
