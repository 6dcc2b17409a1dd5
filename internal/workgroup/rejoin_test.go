package workgroup_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/testbed"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// idle is a worker with one topic to share and nothing to do.
type idle struct{}

func (idle) Topics() map[string]int32                       { return map[string]int32{"t": 24} }
func (idle) Assigned(context.Context, workgroup.Partitions) {}
func (idle) Revoked(context.Context, workgroup.Partitions)  {}
func (idle) Lost(context.Context, workgroup.Partitions)     {}

// One request for a rebalance makes one rebalance, when nothing moves.
//
// Found by the workers' tests, where a group of three workers went on
// rebalancing about once a second, for a minute, with nothing to move
// ("workers rebalanced ... gained=0 gave_up=0" every heartbeat interval).
// The cause was a heartbeat answered REBALANCE_IN_PROGRESS calling Rejoin
// while the member already waited in JoinGroup for that very rebalance: the
// request stayed queued and was served as soon as the round ended, which
// started the next rebalance, during which the same happened again.
func TestWorkgroupRebalancesOncePerRequest(t *testing.T) {
	c := testbed.NewCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ms []*workgroup.Member
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, m := range ms {
			m.Stop()
		}
	})
	opts := workgroup.Options{Group: "g", SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second, RebalanceTimeout: 10 * time.Second}
	for range 3 {
		m := workgroup.New(opts, idle{}, slog.New(slog.DiscardHandler))
		ms = append(ms, m)
		cl := c.Client(t)
		wg.Go(func() { _ = m.Run(ctx, cl) })
		// Heartbeats a third of an interval apart, as the workers of a
		// deployment, started one after the other, have them.
		<-time.After(333 * time.Millisecond)
	}
	count := func() int64 {
		var n int64
		for _, m := range ms {
			n += m.Rebalances()
		}
		return n
	}
	last, quiet := count(), time.Now()
	testbed.WaitFor(t, 30*time.Second, "the group to settle: no rebalance for 2 s", func() bool {
		if n := count(); n != last {
			last, quiet = n, time.Now()
		}
		return time.Since(quiet) > 2*time.Second
	})
	before := ms[0].Rebalances()
	ms[0].Rejoin()
	<-time.After(10 * time.Second)
	if n := ms[0].Rebalances() - before; n > 1 {
		t.Errorf("one request for a rebalance: %d rebalances in the next 10 s, with nothing to move", n)
	}
}
