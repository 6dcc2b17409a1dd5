package checkpoint

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
)

// requestCount counts the requests a client writes, by key.
type requestCount struct {
	mu sync.Mutex
	n  map[int16]int
}

func (c *requestCount) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		c.mu.Lock()
		c.n[key]++
		c.mu.Unlock()
	}
}

// groupRequests are the requests about groups written since the last call.
func (c *requestCount) groupRequests() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, k := range []kmsg.Key{kmsg.DescribeGroups, kmsg.ConsumerGroupDescribe, kmsg.OffsetFetch, kmsg.OffsetCommit} {
		if c.n[int16(k)] > 0 {
			out[k.Name()] = c.n[int16(k)]
		}
	}
	clear(c.n)
	return out
}

// TestQuietRoundsAskTheTargetNothing: once its groups are in sync, a round
// where no source commit moved asks the target nothing about groups, however
// many groups there are; a commit that moves makes the next sync look at
// its group alone and commit it.
func TestQuietRoundsAskTheTargetNothing(t *testing.T) {
	const groups, parts = 40, 4
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", parts, nil); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range parts * 50 {
		recs = append(recs, &kgo.Record{Topic: "app-a", Partition: int32(i % parts), Value: []byte{1}})
	}
	src.Produce(t, recs)
	counts := &requestCount{n: map[int16]int{}}
	b := startBed(t, src, tgt, syncAll, bedOptions{manualRounds: true, tgtOpts: []kgo.Opt{kgo.WithHooks(counts)}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := map[string]map[int32]int64{}
	commit := func(g string, at int64, ps ...int32) {
		t.Helper()
		o := kadm.Offsets{}
		for _, p := range ps {
			o.Add(kadm.Offset{Topic: "app-a", Partition: p, At: at, LeaderEpoch: -1})
		}
		if _, err := b.srcAdm.CommitOffsets(ctx, g, o); err != nil {
			t.Fatal(err)
		}
	}
	for g := range groups {
		name := fmt.Sprintf("app-g%02d", g)
		commit(name, int64(10+g), 0, 1, 2, 3)
		want[name] = map[int32]int64{0: 0, 1: 0, 2: 0, 3: 0}
	}
	// round runs one round with the sync due, as the ticker would.
	round := func() Stats {
		t.Helper()
		b.syncer.syncAt = time.Time{}
		st, err := b.syncer.Round(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	testbed.WaitUntil(t, time.Minute, "every group translated", func() error {
		if st := round(); st.Translated != groups*parts {
			return fmt.Errorf("%d of %d group partitions translated", st.Translated, groups*parts)
		}
		return nil
	})
	round()
	b.synced(t, want, time.Minute)
	counts.groupRequests()

	for range 3 {
		if st := round(); st.Committed != 0 || st.Checkpoints != 0 {
			t.Fatalf("a quiet round committed %d and wrote %d checkpoints", st.Committed, st.Checkpoints)
		}
	}
	if got := counts.groupRequests(); len(got) != 0 {
		t.Fatalf("quiet rounds asked the target %v, want nothing", got)
	}

	commit("app-g07", 40, 2)
	if st := round(); st.Committed != 1 {
		t.Fatalf("the round after a commit committed %d group partitions, want 1", st.Committed)
	}
	got := counts.groupRequests()
	if got["OffsetCommit"] != 1 || got["OffsetFetch"] == 0 {
		t.Fatalf("the round after a commit asked the target %v, want one commit and its group's offsets", got)
	}
	b.synced(t, map[string]map[int32]int64{"app-g07": {2: 0}}, time.Minute)
}
