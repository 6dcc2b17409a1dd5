package migrate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/migrate"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/progress/progresstest"
	"github.com/kmirror/kmirror/internal/testbed"
)

// With the same names copied both ways, a group's target commit goes back
// through the paired flow's map too: records written on the target and
// copied back are not skipped.
func TestRollbackThroughThePairedFlow(t *testing.T) {
	a, b := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, c := range []*testbed.Cluster{a, b} {
		if err := c.CreateTopic("app-t", 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg, f, paired := testbed.BothWays(t, a, b, "app-.*")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A: a0…a9 at 0…9, then b0'…b4' at 10…14, B->A's copies of
	// B: a0'…a9' at 0…9, A->B's copies, then b0…b4 at 10…14.
	out, in := offsetmap.New(0, 0), offsetmap.New(0, 0)
	for i := range int64(10) {
		if _, err := out.Observe(i, i); err != nil {
			t.Fatal(err)
		}
	}
	out.Advance(15)    // B->A's copies are not copied back
	out.SkipTarget(15) // b0…b4, written on B
	in.Advance(10)     // A->B's copies
	in.SkipTarget(10)  // a0…a9, written on A
	for i := range int64(5) {
		if _, err := in.Observe(10+i, 10+i); err != nil {
			t.Fatal(err)
		}
	}
	// The flows' topics, as their workers create them.
	clients := map[string]*kgo.Client{"source": a.Client(t), "target": b.Client(t)}
	for _, fl := range []*config.Flow{f, paired} {
		at, _ := fl.OffsetSyncs()
		if err := progress.NewStore(fl, clients[at], clients[fl.Target]).Ensure(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p := progress.Partition{Topic: "app-t", Partition: 0}
	if err := progresstest.Write(ctx, f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), p, progress.Saved{Map: out}); err != nil {
		t.Fatal(err)
	}
	if err := progresstest.Write(ctx, paired, cfg.Cluster(paired.Source), cfg.Cluster(paired.Target), p, progress.Saved{Map: in}); err != nil {
		t.Fatal(err)
	}
	// The group read a0'…a9', b0 and b1 on B: on A it resumes at b2's
	// copy, 12; A->B's map alone would skip b2…b4 (15).
	if s, _ := out.Back(12); s != 15 {
		t.Fatalf("set-up: A->B's map alone translates 12 back to %d, want 15", s)
	}
	// Its commit on A before the switch, and on B.
	for c, at := range map[*kgo.Client]int64{clients["source"]: 3, clients["target"]: 12} {
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: "app-t", Partition: 0, At: at, LeaderEpoch: -1})
		if _, err := kadm.NewClient(c).CommitOffsets(ctx, "app-g", o); err != nil {
			t.Fatal(err)
		}
	}

	back, err := migrate.Rollback(ctx, cfg, "app-g", false, testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Flows) != 1 || len(back.Flows[0].Partitions) != 1 {
		t.Fatalf("%+v", back)
	}
	bp := back.Flows[0].Partitions[0]
	if bp.Source == nil || *bp.Source != 12 {
		t.Errorf("the commit at 12 goes back to %s, want 12 (%+v)", offset(bp.Source), back)
	}
	if bp.Previous == nil || *bp.Previous != 3 {
		t.Errorf("the previous source commit: %s, want 3", offset(bp.Previous))
	}
	if !back.Ready || back.Committed {
		t.Errorf("ready %v, committed %v (dry run), reasons %v", back.Ready, back.Committed, back.Reasons)
	}
}

func offset(o *int64) string {
	if o == nil {
		return "none"
	}
	return fmt.Sprint(*o)
}
