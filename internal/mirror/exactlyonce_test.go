package mirror

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// exactlyOnce is workers in exactly-once mode, committing often.
const exactlyOnce = workers + `        exactly.once.source.support: enabled
        transaction.boundary.interval.ms: 100
        transaction.slots: 5
`

// writeMixed writes n rounds to every partition of topic: a transaction of
// its own per round, every third one aborted, and a plain record. It
// returns the values of the records a read_committed reader sees, by
// partition, in order.
func writeMixed(t *testing.T, ctx context.Context, src *testbed.Cluster, txn, plain *kgo.Client, topic string, partitions int32, from, n int) map[int32][]string {
	t.Helper()
	want := map[int32][]string{}
	for i := from; i < from+n; i++ {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		commit := i%3 != 2
		for p := range partitions {
			for j := range 2 {
				v := fmt.Sprintf("txn/%d/%d/%d", p, i, j)
				txn.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}, nil)
				if commit {
					want[p] = append(want[p], v)
				}
			}
		}
		if err := txn.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		testbed.EndTransaction(t, ctx, txn, commit)
		for p := range partitions {
			v := fmt.Sprintf("plain/%d/%d", p, i)
			if err := plain.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			want[p] = append(want[p], v)
		}
	}
	return want
}

// committedOnce checks that a read_committed reader of each target
// partition sees exactly the wanted values, once each, in order.
func committedOnce(t *testing.T, tgt *testbed.Cluster, topic string, want map[int32][]string) {
	t.Helper()
	for p, values := range want {
		got := tgt.Read(t, topic, p, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if len(got) != len(values) {
			t.Errorf("%s[%d]: a read_committed reader sees %d records, want the %d committed source records", topic, p, len(got), len(values))
		}
		for i := range min(len(got), len(values)) {
			if string(got[i].Value) != values[i] {
				t.Errorf("%s[%d] record %d is %q, want %q (duplicate, aborted or out of order)", topic, p, i, got[i].Value, values[i])
				break
			}
		}
	}
}

// In exactly-once mode two workers copy a topic written by transactional
// (some aborted) and plain producers; one of them loses its lease, the
// other stops, a third starts: a read_committed reader of the target sees
// every committed source record exactly once, in order, and no aborted
// one; the offset map translates only what is committed.
// openSlots counts the slots a worker has open.
func openSlots(fl *Flow) int {
	if r := fl.run.Load(); r != nil {
		return len(r.slots.list())
	}
	return 0
}

func TestExactlyOnceMode(t *testing.T) {
	src, tgt := testbed.NewCluster(t), groupTarget(t)
	const topic, partitions = "app-eos", int32(4)
	if err := src.CreateTopic(topic, partitions, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	txn := src.Client(t, kgo.TransactionalID("app-writer"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	plain := src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	want := map[int32][]string{}
	add := func(more map[int32][]string) {
		for p, vs := range more {
			want[p] = append(want[p], vs...)
		}
	}
	add(writeMixed(t, ctx, src, txn, plain, topic, partitions, 0, 30))

	cfg := testbed.Config(t, src, tgt, exactlyOnce)
	if !cfg.Flows[0].ExactlyOnce {
		t.Fatal("set-up: the flow is not in exactly-once mode")
	}
	w1, w2 := start(t, cfg), start(t, cfg)
	testbed.WaitFor(t, 30*time.Second, "both workers own slots", func() bool {
		n1, n2 := openSlots(w1.flow), openSlots(w2.flow)
		return n1 > 0 && n2 > 0 && n1+n2 == 5
	})
	copiedAll(t, src, topic, 30*time.Second, w1.flow, w2.flow)
	committedOnce(t, tgt, topic, want)

	// Heartbeats fail for 3 s while both producers keep writing: the
	// workers lose their leases, abort their transactions and fence
	// their slots again.
	failHeartbeats(tgt, 3*time.Second)
	add(writeMixed(t, ctx, src, txn, plain, topic, partitions, 30, 40))
	testbed.WaitFor(t, 30*time.Second, "a worker dropped its slots", func() bool {
		return w1.flow.member.Losses()+w2.flow.member.Losses() > 0
	})
	copiedAll(t, src, topic, 30*time.Second, w1.flow, w2.flow)

	// One worker stops cleanly, a third one starts.
	w2.stop(t)
	w3 := start(t, cfg)
	add(writeMixed(t, ctx, src, txn, plain, topic, partitions, 70, 30))
	copiedAll(t, src, topic, 30*time.Second, w1.flow, w3.flow)
	committedOnce(t, tgt, topic, want)

	// A translation never points past what is committed.
	for p := range partitions {
		k := progress.Partition{Topic: topic, Partition: p}
		for _, fl := range []*Flow{w1.flow, w3.flow} {
			c, ok, _ := fl.View(Own).Copied(ctx, k)
			if !ok {
				continue
			}
			tr, _, _ := fl.View(Own).Translate(ctx, k, c.Next+1)
			if tr.Result != offsetmap.NotYetMirrored {
				t.Errorf("%s[%d]: the offset after the committed end translates (%v)", topic, p, tr.Result)
			}
		}
	}
	w1.stop(t)
	w3.stop(t)
	committedOnce(t, tgt, topic, want)
}

// Workers in different delivery modes, or with different slot counts,
// never share a flow: the one that joins last stops with an error that
// says why, and the other keeps copying.
func TestModesDoNotShareAFlow(t *testing.T) {
	for _, c := range []struct{ name, first, second string }{
		{"default, then exactly-once", workers, exactlyOnce},
		{"exactly-once, then default", exactlyOnce, workers},
		{"other slot counts", exactlyOnce, strings.Replace(exactlyOnce, "transaction.slots: 5", "transaction.slots: 6", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, tgt := testbed.NewCluster(t), groupTarget(t)
			if err := src.CreateTopic("app-a", 2, nil); err != nil {
				t.Fatal(err)
			}
			src.Produce(t, unique("app-a", 2, 0, 100))
			w1 := start(t, testbed.Config(t, src, tgt, c.first))
			copiedAll(t, src, "app-a", 30*time.Second, w1.flow)
			w2 := start(t, testbed.Config(t, src, tgt, c.second))
			select {
			case err := <-w2.done:
				w2.cancel = nil
				if err == nil || !strings.Contains(err.Error(), "other delivery mode or with other transaction.slots") {
					t.Fatalf("the second worker stopped with %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the second worker joined a flow whose workers share the work in another way")
			}
			src.Produce(t, unique("app-a", 2, 100, 100))
			copiedAll(t, src, "app-a", 30*time.Second, w1.flow)
		})
	}
}

// A worker killed in the middle of a commit leaves its transaction open
// on the progress topic, and reading the progress waits for it. The next
// owner fences every slot it gains before it reads anything, so it does
// not wait for the transaction timeout; and the dead worker's commit can
// no longer land.
func TestAnOpenCommitOfADeadWorkerIsFencedFirst(t *testing.T) {
	src, tgt := testbed.NewCluster(t), groupTarget(t)
	if err := src.CreateTopic("app-a", 3, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, exactlyOnce)
	f := cfg.Flows[0]
	src.Produce(t, unique("app-a", 3, 0, 100))
	w := start(t, cfg)
	copiedAll(t, src, "app-a", 30*time.Second, w.flow)
	w.stop(t)

	// The dead worker wrote to the progress topic in a transaction of the
	// last slot, which a worker opens last, and never committed it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dead := tgt.Client(t, kgo.TransactionalID(f.TransactionalID(int32(f.TransactionSlots-1))), kgo.TransactionTimeout(5*time.Minute))
	if err := dead.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := dead.ProduceSync(ctx, &kgo.Record{Topic: f.ProgressTopic(), Key: []byte("half a commit")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	src.Produce(t, unique("app-a", 3, 100, 100))
	w = start(t, cfg)
	copiedAll(t, src, "app-a", 20*time.Second, w.flow)
	if err := dead.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Error("the dead worker's transaction committed after its slot was fenced")
	}
	w.stop(t)
	for p := range int32(3) {
		got := tgt.Read(t, "app-a", p, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if len(got) != 200 {
			t.Errorf("app-a[%d]: a read_committed reader sees %d records, want 200", p, len(got))
		}
	}
}
