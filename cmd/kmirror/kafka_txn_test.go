package main_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// What exactly-once mode rests on, pinned on both beds: a transaction
// spans the copied records and kmirror's own topics and commits
// atomically; a second producer with the same
// transactional.id fences the first (a zombie worker) at the broker, and
// the zombie's writes are never visible to a read_committed reader.
func TestTransactionsFenceAZombie(t *testing.T) {
	_, tgt := clusters(t)
	t.Logf("bed: %s", bedName())
	data, state := uniq(t, "txn-data"), uniq(t, "txn-state")
	tgt.createTopic(t, data, 1, nil)
	tgt.createTopic(t, state, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := uniq(t, "kmirror.txn")
	producer := func() *kgo.Client {
		return tgt.Client(t, kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(time.Minute))
	}
	write := func(cl *kgo.Client, values ...string) error {
		var recs []*kgo.Record
		for _, v := range values {
			recs = append(recs, &kgo.Record{Topic: data, Value: []byte(v)}, &kgo.Record{Topic: state, Value: []byte(v)})
		}
		return cl.ProduceSync(ctx, recs...).FirstErr()
	}

	// One committed transaction over both topics.
	first := producer()
	if err := first.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := write(first, "committed-1"); err != nil {
		t.Fatal(err)
	}
	if err := first.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	// The first producer writes on, and freezes before committing: a
	// zombie. A new owner takes its transactional.id over.
	if err := first.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := write(first, "zombie"); err != nil {
		t.Fatal(err)
	}
	second := producer()
	if err := second.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := write(second, "committed-2"); err != nil {
		t.Fatalf("the new owner's write: %v", err)
	}
	if err := second.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("the new owner's commit: %v", err)
	}
	// The zombie wakes up: its commit is refused by the broker.
	err := first.EndTransaction(ctx, kgo.TryCommit)
	if err == nil {
		t.Fatal("the zombie committed after it was fenced")
	}
	t.Logf("the zombie's commit: %v", err)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Errorf("the zombie's commit failed with %v, want a fencing error (PRODUCER_FENCED or INVALID_PRODUCER_EPOCH)", err)
	}

	// A read_committed reader of either topic sees both committed writes,
	// in order, and not the zombie's.
	for _, topic := range []string{data, state} {
		cl := tgt.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		var got []string
		testbed.WaitUntil(t, 30*time.Second, "both committed records of "+topic, func() error {
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			defer pcancel()
			cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			if len(got) < 2 {
				return fmt.Errorf("read %q", got)
			}
			return nil
		})
		// The zombie's record lies between the two committed ones: were
		// it visible, it would be second.
		if want := []string{"committed-1", "committed-2"}; !slices.Equal(got, want) {
			t.Errorf("%s read_committed: %q, want %q", topic, got, want)
		}
	}
}
