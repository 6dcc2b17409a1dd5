package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Tail follows a topic that holds state, typically a compacted one: the
// first CatchUp reads it from its start, each later one only what was
// written since, so that a reader kept for the life of a process never
// reads the topic whole twice. A topic that does not exist yet holds
// nothing until it does. It reads what is committed (read_committed): state
// written in transactions counts once its transaction commits, and never
// when it aborts; records written without a transaction count at once.
type Tail struct {
	cl    *kgo.Client
	adm   *kadm.Client
	topic string
	take  func(*kgo.Record)
	// next is the next offset to read of each partition being followed.
	next map[int32]int64
}

// NewTail makes a Tail of topic with a client made of opts; take gets
// every data record, tombstones included, in the order of each partition.
// Nothing is read before CatchUp.
func NewTail(opts []kgo.Opt, topic string, take func(*kgo.Record)) (*Tail, error) {
	cl, err := kgo.NewClient(append(opts, kgo.KeepControlRecords(), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return nil, err
	}
	return &Tail{cl: cl, adm: kadm.NewClient(cl), topic: topic, take: take, next: map[int32]int64{}}, nil
}

// Close closes the Tail's client.
func (t *Tail) Close() { t.cl.Close() }

// CatchUp reads what was committed to the topic since the last CatchUp, up
// to the end offsets the topic has when it is called. Transactions open
// then are waited for, committed or aborted: what any writer committed
// before the call is read, even when a transaction still open then holds
// the last stable offset behind it.
func (t *Tail) CatchUp(ctx context.Context) error {
	ends, err := t.adm.ListEndOffsets(ctx, t.topic)
	if err != nil {
		return fmt.Errorf("read %q: %w", t.topic, err)
	}
	var starts kadm.ListedOffsets
	remaining := map[int32]int64{}
	add := map[int32]kgo.Offset{}
	var ferr error
	ends.Each(func(o kadm.ListedOffset) {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return // no topic, nothing stored
		}
		if o.Err != nil {
			ferr = o.Err
			return
		}
		if next, ok := t.next[o.Partition]; ok {
			if o.Offset > next {
				remaining[o.Partition] = o.Offset
			}
			return
		}
		if starts == nil {
			if starts, ferr = t.adm.ListStartOffsets(ctx, t.topic); ferr != nil {
				return
			}
		}
		if s, ok := starts.Lookup(t.topic, o.Partition); ok && s.Err == nil && o.Offset > s.Offset {
			remaining[o.Partition] = o.Offset
			add[o.Partition] = kgo.NewOffset().At(s.Offset)
			t.next[o.Partition] = s.Offset
		}
	})
	if ferr != nil {
		return fmt.Errorf("read %q: %w", t.topic, ferr)
	}
	if len(remaining) == 0 {
		return nil
	}
	if len(add) > 0 {
		t.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{t.topic: add})
	}
	// Between two catch-ups the partitions are paused, so that the client
	// does not fetch in the background what nobody asked for yet.
	resume := map[string][]int32{t.topic: nil}
	for p := range remaining {
		resume[t.topic] = append(resume[t.topic], p)
	}
	t.cl.ResumeFetchPartitions(resume)
	defer t.cl.PauseFetchPartitions(resume)
	for len(remaining) > 0 {
		fs := t.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %q: %w", t.topic, err)
		}
		var perr error
		fs.EachError(func(_ string, _ int32, err error) { perr = err })
		if perr != nil {
			return fmt.Errorf("read %q: %w", t.topic, perr)
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if !r.Attrs.IsControl() {
					t.take(r)
				}
				t.next[r.Partition] = r.Offset + 1
			}
			// Control records, aborted records and compaction can leave the
			// end unreachable by data records; the last stable offset tells
			// when we are there.
			if len(p.Records) == 0 && p.LastStableOffset > t.next[p.Partition] {
				t.next[p.Partition] = p.LastStableOffset
			}
			if end, ok := remaining[p.Partition]; ok && t.next[p.Partition] >= end {
				delete(remaining, p.Partition)
			}
		})
	}
	return nil
}
