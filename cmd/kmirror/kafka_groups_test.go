package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// kip848 skips a test whose consumers speak KIP-848's consumer protocol on
// a bed without it: kfake has it, Apache Kafka from 4.0 (3.9 only as an
// early-access feature turned off by default).
func kip848(t *testing.T) {
	t.Helper()
	if v := testbed.KafkaVersion(testbed.KafkaJars()); onKafka() && v < "4" {
		t.Skipf("the KIP-848 consumer protocol needs Kafka 4.0 or later; the bed runs %s", v)
	}
}

// groupStatus runs `kmirror status --json` and returns group's state in
// the configuration's one flow, or false while the flow does not report
// it.
func groupStatus(t *testing.T, config, group string) (status.Group, bool) {
	t.Helper()
	code, out := runs(t, time.Minute, "status", "-c", config, "--json")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	var r status.Report
	i := strings.Index(out, "{")
	if i < 0 {
		t.Fatalf("status --json printed no JSON:\n%s", out)
	}
	if err := json.Unmarshal([]byte(out[i:]), &r); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	for _, f := range r.Flows {
		for _, g := range f.Groups {
			if g.Group == group {
				return g, true
			}
		}
	}
	return status.Group{}, false
}

// A group whose consumers speak KIP-848's consumer protocol is listed,
// described, judged by `status` and `migrate ready`, and synced like a
// classic group; kmirror does not commit into it on the target while it
// has members there. Classic DescribeGroups does not describe such a
// group (Kafka 4 answers GROUP_ID_NOT_FOUND, kfake a state without
// members), so before kmirror asked ConsumerGroupDescribe too, it took an
// active group for an empty one: `migrate ready` said READY while the
// consumers still ran on the source.
func TestKIP848Groups(t *testing.T) {
	kip848(t)
	src, tgt := clusters(t)
	t.Logf("bed: %s", bedName())
	topic, group := uniq(t, "orders848"), uniq(t, "app848")
	const parts, each = 3, 30
	src.createTopic(t, topic, parts, nil)
	produce := func(from, n int) {
		t.Helper()
		var recs []*kgo.Record
		for p := range int32(parts) {
			for i := from; i < from+n; i++ {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d/%d", p, i)})
			}
		}
		src.Produce(t, recs)
	}
	produce(0, each)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// consumer joins group with the consumer protocol and reads until it
	// has n records of every partition, committing them.
	consumer := func(c *bedCluster, commit bool) *kgo.Client {
		t.Helper()
		opts := []kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ServerSideBalancer(),
			kgo.Balancers(kgo.RangeBalancer()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
		if !commit {
			opts = append(opts, kgo.DisableAutoCommit())
		}
		cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(strings.Split(c.Addr, ",")...))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	srcCl := consumer(src, true)
	for n := 0; n < parts*each; {
		fs := srcCl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume on the source: %v", err)
		}
		n += fs.NumRecords()
	}
	if err := srcCl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	cfg := flowConfig(t, side{alias: "src848", addr: src.Addr}, side{alias: "tgt848", addr: tgt.Addr}, groupSyncMirror(topic, group, false))
	w := runWorker(t, cfg)

	// While the consumer runs on the source, its offsets are synced and
	// the group is not ready.
	testbed.WaitFor(t, 2*time.Minute, "the group's offsets synced to the target", func() bool {
		g, ok := groupStatus(t, cfg, group)
		if !ok || len(g.Partitions) != parts {
			return false
		}
		for _, p := range g.Partitions {
			if p.State != status.StateInSync {
				return false
			}
		}
		return true
	})
	g, _ := groupStatus(t, cfg, group)
	if g.ActiveOnSource != 1 || g.Verdict != status.VerdictNotReady {
		t.Errorf("status with the consumer on the source: %d active on the source, verdict %q, want 1 and %q (%v)", g.ActiveOnSource, g.Verdict, status.VerdictNotReady, g.Reasons)
	}
	code, out := runs(t, time.Minute, "migrate", "ready", "-c", cfg, "--group", group)
	if code != 1 || !strings.Contains(out, "still active on the source") {
		t.Errorf("migrate ready with the consumer on the source: exit %d, want 1 naming it\n%s", code, out)
	}

	// The consumer leaves the source: ready.
	srcCl.Close()
	testbed.WaitFor(t, 2*time.Minute, "migrate ready to exit 0", func() bool {
		code, out = runs(t, time.Minute, "migrate", "ready", "-c", cfg, "--group", group)
		return code == 0
	})

	// It joins on the target, where it starts after the last committed
	// record; kmirror sees it there and stops syncing the group.
	tgtCl := consumer(tgt, false)
	produce(each, 5)
	seen := map[int32]int64{}
	for len(seen) < parts {
		fs := tgtCl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume on the target: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := seen[r.Partition]; !ok {
				seen[r.Partition] = r.Offset
			}
		})
	}
	for p, first := range seen {
		if first != each {
			t.Errorf("partition %d: the first record on the target is at %d, want %d", p, first, each)
		}
	}
	testbed.WaitFor(t, time.Minute, "status to say switched", func() bool {
		g, _ = groupStatus(t, cfg, group)
		return g.ActiveOnTarget == 1
	})
	if g.Verdict != status.VerdictSwitched {
		t.Errorf("status with the consumer on the target: verdict %q, want %q (%v)", g.Verdict, status.VerdictSwitched, g.Reasons)
	}

	// The source group moves on (an operator's commit): kmirror
	// checkpoints it, and leaves the target group, which has a member,
	// where its consumer is. Each round writes its checkpoints before it
	// syncs, so once the second commit's checkpoint is there, the first
	// one's sync has been tried.
	for _, at := range []int64{each + 2, each + 3} {
		o := kadm.Offsets{}
		for p := range int32(parts) {
			o.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
		}
		if _, err := src.admin(t).CommitOffsets(ctx, group, o); err != nil {
			t.Fatal(err)
		}
		waitCheckpoint(t, tgt, "src848.checkpoints.internal", group, topic, at)
	}
	committed, err := tgt.admin(t).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(parts) {
		if o, _ := committed.Lookup(topic, p); o.At != each {
			t.Errorf("partition %d: kmirror committed %d into the target group while it had a member, want it left at %d", p, o.At, each)
		}
	}
	tgtCl.Close()
	stopWorker(t, w)
}

// waitCheckpoint waits until the checkpoints topic holds a checkpoint of
// group for every partition of topic at upstream offset at.
func waitCheckpoint(t *testing.T, tgt *bedCluster, checkpoints, group, topic string, at int64) {
	t.Helper()
	testbed.WaitFor(t, time.Minute, fmt.Sprintf("checkpoints of %s at %d", group, at), func() bool {
		parts := map[int32]bool{}
		for _, r := range tgt.Read(t, checkpoints, 0) {
			c, err := checkpoint.Decode(r.Key, r.Value)
			if err == nil && c.Group == group && c.Topic == topic && c.Upstream == at {
				parts[c.Partition] = true
			}
		}
		return len(parts) == len(tgt.EndOffsets(t, topic))
	})
}
