package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// A partition counts as still written when any of what the broker knows
// shows a write within the quiet window:
//   - its end offset moved between two looks of this drain (any producer,
//     idempotent or not);
//   - DescribeProducers (KIP-664) lists a producer whose last write falls in
//     the window (idempotent and transactional producers; the broker keeps
//     them for producer.id.expiration.ms, a day by default, so older ones
//     are left out);
//   - a transaction is open on it: its last stable offset is below its end,
//     or DescribeProducers gives a producer's current transaction start.
//
// A partition whose end has not been watched for a whole window yet is not
// "written" — nothing shows a write — but the drain waits for the window
// (DrainState.Quiet) all the same: a producer without idempotence that
// pauses shows only in the end offsets.

// Written is a source partition that a producer wrote to within the quiet
// window, or that holds an open transaction, with what shows it.
type Written struct {
	Cluster   string `json:"cluster"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// EndMoved is when this drain last saw the partition's end move; zero
	// when it did not within the window.
	EndMoved time.Time `json:"endMoved,omitzero"`
	// OpenFrom is the first offset of a transaction still open on the
	// partition (its last stable offset), or -1.
	OpenFrom int64 `json:"openFrom"`
	// Producers are those the broker describes as having written within
	// the window or holding a transaction open, by producer id.
	Producers []Producer `json:"producers"`
}

// Producer is one producer of a Written partition, as DescribeProducers
// tells it.
type Producer struct {
	ID    int64 `json:"id"`
	Epoch int16 `json:"epoch"`
	// LastWrite is the timestamp of its last batch on the partition.
	LastWrite time.Time `json:"lastWrite"`
	// TxnStart is the first offset of its open transaction, or -1.
	TxnStart int64 `json:"txnStart"`
	// TransactionalID names it, when the broker lists its transaction.
	TransactionalID string `json:"transactionalId,omitempty"`
}

// Name is "topic[p]".
func (w Written) Name() string { return fmt.Sprintf("%s[%d]", w.Topic, w.Partition) }

// Describe says what shows that the partition is still written, with
// times relative to now.
func (w Written) Describe(now time.Time) string {
	var why []string
	if !w.EndMoved.IsZero() {
		why = append(why, "its end moved "+ago(now, w.EndMoved))
	}
	if w.OpenFrom >= 0 {
		why = append(why, fmt.Sprintf("a transaction is open from offset %d", w.OpenFrom))
	}
	for _, p := range w.Producers {
		s := fmt.Sprintf("producer %d (epoch %d", p.ID, p.Epoch)
		if p.TransactionalID != "" {
			s += fmt.Sprintf(", transactional id %q", p.TransactionalID)
		}
		s += ") last wrote " + ago(now, p.LastWrite)
		if p.TxnStart >= 0 && p.TxnStart != w.OpenFrom {
			s += fmt.Sprintf(", its transaction open from offset %d", p.TxnStart)
		}
		why = append(why, s)
	}
	return fmt.Sprintf("%s on %q: %s", w.Name(), w.Cluster, strings.Join(why, "; "))
}

// ago is how long before now t was, to the tenth of a second.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		return "in " + (-d).Round(100*time.Millisecond).String() + " (the producer's clock is ahead)"
	}
	return d.Round(100*time.Millisecond).String() + " ago"
}

// partitionLook is what one look learnt of a source partition.
type partitionLook struct {
	end int64
	// stable is the last stable offset, or -1 when unknown.
	stable    int64
	producers []kadm.DescribedProducer
}

// written decides whether a partition is still written at now, given when
// its end was last seen moving (zero: not since the drain began) and the
// quiet window.
func written(cluster, topic string, partition int32, l partitionLook, endMoved, now time.Time, window time.Duration) (Written, bool) {
	w := Written{Cluster: cluster, Topic: topic, Partition: partition, OpenFrom: -1}
	from := now.Add(-window)
	if !endMoved.IsZero() && endMoved.After(from) {
		w.EndMoved = endMoved
	}
	if l.stable >= 0 && l.stable < l.end {
		w.OpenFrom = l.stable
	}
	for _, p := range l.producers {
		last := time.UnixMilli(p.LastTimestamp)
		// A timestamp further ahead than the window is a clock or an
		// explicit timestamp, not a recent write; the end offsets still
		// show what it writes.
		recent := last.After(from) && last.Before(now.Add(window))
		if !recent && p.CurrentTxnStartOffset < 0 {
			continue
		}
		w.Producers = append(w.Producers, Producer{ID: p.ProducerID, Epoch: p.ProducerEpoch, LastWrite: last, TxnStart: p.CurrentTxnStartOffset})
	}
	slices.SortFunc(w.Producers, func(a, b Producer) int { return b.LastWrite.Compare(a.LastWrite) })
	return w, !w.EndMoved.IsZero() || w.OpenFrom >= 0 || len(w.Producers) > 0
}

// lookWriters learns the last stable offsets and the producers of a
// cluster's partitions. What the broker cannot answer is a note (the check
// then relies on the rest), not an error.
func lookWriters(ctx context.Context, adm *kadm.Client, cluster string, topics []string, looks map[topicPartition]*partitionLook) (notes []string) {
	stable, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		notes = append(notes, fmt.Sprintf("cannot list the last stable offsets on %q (%v): open transactions show only through DescribeProducers", cluster, err))
	}
	stable.Each(func(o kadm.ListedOffset) {
		if l := looks[topicPartition{o.Topic, o.Partition}]; l != nil && o.Err == nil {
			l.stable = o.Offset
		}
	})
	set := kadm.TopicsSet{}
	for tp := range looks {
		set.Add(tp.topic, tp.partition)
	}
	described, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		notes = append(notes, fmt.Sprintf("cannot describe the producers on %q (%v): the end offsets and last stable offsets alone show writes (the broker needs Kafka 2.8 or later and Read on the topics)", cluster, unwrapShard(err)))
	}
	var failed []string
	described.EachPartition(func(p kadm.DescribedProducersPartition) {
		l := looks[topicPartition{p.Topic, p.Partition}]
		if l == nil {
			return
		}
		if p.Err != nil {
			failed = append(failed, fmt.Sprintf("%s[%d] (%v)", p.Topic, p.Partition, p.Err))
			return
		}
		for _, d := range p.ActiveProducers {
			l.producers = append(l.producers, d)
		}
	})
	if len(failed) > 0 {
		slices.Sort(failed)
		notes = append(notes, fmt.Sprintf("cannot describe the producers of %s on %q: the end offsets alone show writes there", strings.Join(failed, ", "), cluster))
	}
	return notes
}

// nameTransactions fills in the transactional ids of the open transactions
// in ws from ListTransactions, where the broker lists them (it lists only
// those the user may Describe). A failure is a note.
func nameTransactions(ctx context.Context, adm *kadm.Client, cluster string, ws []Written) (notes []string) {
	var ids []int64
	for _, w := range ws {
		for _, p := range w.Producers {
			if p.TxnStart >= 0 || w.OpenFrom >= 0 {
				ids = append(ids, p.ID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	listed, err := adm.ListTransactions(ctx, ids, []string{"Ongoing"})
	if err != nil {
		return []string{fmt.Sprintf("cannot list the transactions on %q (%v): open transactions are named by producer id only", cluster, unwrapShard(err))}
	}
	byID := map[int64]string{}
	for _, t := range listed {
		byID[t.ProducerID] = t.TxnID
	}
	for i := range ws {
		for j := range ws[i].Producers {
			ws[i].Producers[j].TransactionalID = byID[ws[i].Producers[j].ID]
		}
	}
	return nil
}

// unwrapShard gives the first broker's error of a sharded request's
// failure: the rest say the same in practice.
func unwrapShard(err error) error {
	var se *kadm.ShardErrors
	if errors.As(err, &se) && len(se.Errs) > 0 {
		return se.Errs[0].Err
	}
	return err
}

type topicPartition struct {
	topic     string
	partition int32
}
