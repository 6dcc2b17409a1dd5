package checkpoint

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// A group with active members on the target is never overwritten, and a
// target group ahead of the translation is never moved back.
func TestSyncRespectsTheTargetGroup(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, name := range []string{"app-a", "other"} {
		if err := src.CreateTopic(name, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	src.Produce(t, records("app-a", 100))
	b := startBed(t, src, tgt, syncAll, bedOptions{manualRounds: true})
	testbed.WaitFor(t, 30*time.Second, "the target topic", func() bool { return tgt.EndOffsets(t, "app-a")[0] == 100 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	commit := func(adm *kadm.Client, group string, at int64, topic ...string) {
		t.Helper()
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: append(topic, "app-a")[0], Partition: 0, At: at, LeaderEpoch: -1})
		resp, err := adm.CommitOffsets(ctx, group, o)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	targetAt := func(group string) int64 {
		resp, err := b.tgtAdm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		o, ok := resp.Lookup("app-a", 0)
		if !ok {
			return -1
		}
		return o.At
	}
	// Ahead: the target group is at 90, the source at 40.
	commit(b.tgtAdm, "app-ahead", 90)
	commit(b.srcAdm, "app-ahead", 40)
	// Active: a member of app-active consumes on the target.
	commit(b.srcAdm, "app-active", 10)
	member := tgt.Client(t, kgo.ConsumerGroup("app-active"), kgo.ConsumeTopics("app-a"), kgo.DisableAutoCommit())
	testbed.WaitFor(t, 30*time.Second, "the target member to join", func() bool {
		member.PollFetches(ctx)
		d, err := b.tgtAdm.DescribeGroups(ctx, "app-active")
		return err == nil && d["app-active"].State == "Stable"
	})
	commit(b.srcAdm, "app-active", 60)

	// Elsewhere: the group commits only on a topic that is not replicated.
	commit(b.srcAdm, "app-elsewhere", 0, "other")

	// One round syncs what it may: app-ahead and app-active are left as
	// they are, and nothing fails.
	round := func() Stats {
		t.Helper()
		st, err := b.syncer.Round(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := round(); st.Groups != 3 || st.Translated != 2 || st.Committed != 0 {
		t.Errorf("round %+v, want 3 groups, 2 partitions translated (app-ahead, app-active), none committed", st)
	}
	if at := targetAt("app-ahead"); at != 90 {
		t.Errorf("app-ahead moved back to %d", at)
	}
	if at := targetAt("app-active"); at >= 10 {
		t.Errorf("app-active was committed to %d while active on the target", at)
	}
	// Once the member leaves, the group is synced.
	member.LeaveGroup()
	member.Close()
	testbed.WaitFor(t, 30*time.Second, "app-active synced after its member left", func() bool {
		b.syncer.syncAt = time.Time{} // the next round syncs
		round()
		return targetAt("app-active") == 60
	})
	if at := targetAt("app-ahead"); at != 90 {
		t.Errorf("app-ahead moved back to %d", at)
	}
}

func records(topic string, n int) []*kgo.Record {
	var out []*kgo.Record
	for i := range n {
		out = append(out, &kgo.Record{Topic: topic, Value: []byte{byte(i)}})
	}
	return out
}
