package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/time/rate"

	"github.com/kmirror/kmirror/internal/batch"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// task copies a set of source partitions with its own fetcher, into
// their producers.
type task struct {
	id      int
	cl      *kgo.Client
	fetcher *batch.Fetcher
	taskDeps
	// path is the batch path outside exactly-once mode, nil in it.
	path   *batchPath
	decomp kgo.Decompressor

	mu    sync.Mutex
	parts map[progress.Partition]*partition
	// copying is held while a fetch is handed to the producer, so that a
	// removed partition gets no record after remove returns.
	copying sync.Mutex
}

// taskDeps are what a task needs of its flow, given when it is made.
type taskDeps struct {
	cfg *config.Flow
	// client makes the client a task fetches through.
	client func() (*kgo.Client, error)
	// lookup is the source client every task looks leaders up through
	// (batch.FetchOptions.Lookup).
	lookup *kgo.Client
	// out is the batch producer outside exactly-once mode, nil in it.
	out *batch.Producer
	log *slog.Logger
	// retention decides what follows when the source no longer holds a
	// partition's next offset: resume at an offset, or stop the partition.
	retention *retention
	// throttle, when set, paces reading from the source.
	throttle *rate.Limiter
	// valid tells whether the worker still owns its partitions; a fetch
	// made when it no longer does is dropped, and the partitions with it.
	valid func() bool
	// pairMaps, when set, follows the flow's pair: its copies on the source
	// are not copied back.
	pairMaps *pairMaps
}

func newTask(id int, d taskDeps) (*task, error) {
	cl, err := d.client()
	if err != nil {
		return nil, fmt.Errorf("task %d consumer: %w", id, err)
	}
	c := d.cfg.Consumer
	d.log = d.log.With("task", id)
	t := &task{id: id, cl: cl, taskDeps: d, parts: map[progress.Partition]*partition{}, decomp: kgo.DefaultDecompressor(),
		fetcher: batch.NewFetcher(cl, batch.FetchOptions{MaxWait: c.FetchMaxWait, MinBytes: c.FetchMinBytes, MaxBytes: c.FetchMaxBytes,
			PartitionMaxBytes: c.MaxPartitionFetchBytes, ReadCommitted: c.ReadCommitted, Log: d.log, Lookup: d.lookup})}
	if d.out != nil {
		if t.path, err = newBatchPath(d.cfg, d.out, t.decomp); err != nil {
			t.close()
			return nil, fmt.Errorf("task %d: %w", id, err)
		}
	}
	return t, nil
}

// add starts copying partitions from their mirrored ends.
func (t *task) add(parts []*partition) {
	offsets := map[string]map[int32]int64{}
	t.mu.Lock()
	for _, p := range parts {
		t.parts[p.key] = p
		if offsets[p.key.Topic] == nil {
			offsets[p.key.Topic] = map[int32]int64{}
		}
		offsets[p.key.Topic][p.key.Partition] = p.end().Source
	}
	t.mu.Unlock()
	t.fetcher.Add(offsets)
}

// remove stops copying partitions: no record of theirs reaches the
// producer after it returns.
func (t *task) remove(keys []progress.Partition) {
	t.copying.Lock()
	defer t.copying.Unlock()
	topics := map[string][]int32{}
	t.mu.Lock()
	for _, k := range keys {
		if _, ok := t.parts[k]; ok {
			delete(t.parts, k)
			topics[k.Topic] = append(topics[k.Topic], k.Partition)
		}
	}
	t.mu.Unlock()
	if len(topics) > 0 {
		t.fetcher.Remove(topics)
	}
}

func (t *task) part(topic string, partition int32) *partition {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.parts[progress.Partition{Topic: topic, Partition: partition}]
}

// fetched is one partition's fetch with its whole batches; err says they
// could not be read as record batches (an older message format), and
// franz-go decodes the fetch.
type fetched struct {
	batch.Fetched
	batches []batch.Batch
	err     error
}

// next is the offset after the fetch's last whole batch.
func (f *fetched) next() int64 {
	if n := len(f.batches); n > 0 {
		return f.batches[n-1].NextOffset()
	}
	return f.Offset
}

// run copies until ctx ends.
func (t *task) run(ctx context.Context) error {
	for {
		polled := t.fetcher.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs := make([]*fetched, 0, len(polled))
		size := 0
		for _, f := range polled {
			if f.Err != nil {
				if errors.Is(f.Err, kerr.OffsetOutOfRange) {
					t.handleOutOfRange(ctx, f.Topic, f.Partition)
					continue
				}
				// Retriable errors are retried inside the fetcher; what
				// reaches us (authorization, a corrupt batch) stopped the
				// partition's fetching, and stops the flow with its name.
				if p := t.part(f.Topic, f.Partition); p != nil {
					p.failWith(f.Offset, f.Err) // it names the partition
				}
				continue
			}
			bs, err := batch.Split(f.Records)
			fs = append(fs, &fetched{Fetched: f, batches: bs, err: err})
			size += len(f.Records)
		}
		if t.throttle != nil {
			if err := t.pace(ctx, size); err != nil {
				return nil // stopping
			}
		}
		// Before the lock: waiting for the pair must not hold a removal.
		copies, err := t.pairCopies(ctx, fs)
		if err != nil {
			return nil // stopping
		}
		t.copying.Lock()
		if !t.valid() {
			// The group is about to drop every partition (Lost), and
			// their next owner copies these records from the persisted
			// progress: none is lost by dropping them here.
			t.copying.Unlock()
			continue
		}
		for _, f := range fs {
			p := t.part(f.Topic, f.Partition)
			switch {
			case p == nil:
			case t.path != nil:
				p.countFetch()
				t.path.copy(ctx, p, f, copies[p.key])
			default:
				recs, err := t.records(f)
				if err != nil {
					p.failWith(f.Offset, fmt.Errorf("copy %s[%d]: %w", f.Topic, f.Partition, err))
					continue
				}
				p.produce(recs, copies[p.key])
			}
		}
		t.copying.Unlock()
		// A partition failure cancels the flow at once through
		// partition.fail; the next poll then returns.
	}
}

// records decodes a fetch for the record path of exactly-once mode.
func (t *task) records(f *fetched) ([]*kgo.Record, error) {
	recs, _, err := decode(f.Fetched, f.Offset, t.cfg.Consumer.ReadCommitted, t.decomp)
	return recs, err
}

// decode reads the records of a fetch at and after offset from, as
// franz-go's consumer would: control records kept, aborted ones left out
// when committed is set. next is the offset after what it read, aborted
// records and markers included.
func decode(f batch.Fetched, from int64, committed bool, d kgo.Decompressor) (recs []*kgo.Record, next int64, err error) {
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	raw := &kmsg.FetchResponseTopicPartition{Partition: f.Partition, RecordBatches: f.Records, AbortedTransactions: f.Aborted,
		HighWatermark: f.HighWatermark, LastStableOffset: f.LastStable, LogStartOffset: f.LogStart}
	fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{KeepControlRecords: true, Offset: from,
		IsolationLevel: iso, Topic: f.Topic, Partition: f.Partition}, raw, d, nil)
	if fp.Err != nil {
		return nil, next, fmt.Errorf("decode the fetch at offset %d: %w", from, fp.Err)
	}
	return fp.Records, next, nil
}

// pairCopies returns, for each partition of fs, the pair's map that tells
// its copies among the fetched records (none without a pair), once it
// decides them all. Only the end of ctx makes it fail.
func (t *task) pairCopies(ctx context.Context, fs []*fetched) (map[progress.Partition]*offsetmap.Map, error) {
	if t.pairMaps == nil {
		return nil, nil
	}
	out := map[progress.Partition]*offsetmap.Map{}
	for _, f := range fs {
		next := f.next()
		if f.err != nil {
			// Not record batches: the records tell where they end.
			next = f.Offset
			if recs, _ := t.records(f); len(recs) > 0 {
				next = recs[len(recs)-1].Offset + 1
			}
		}
		if next <= f.Offset {
			continue
		}
		k := progress.Partition{Topic: f.Topic, Partition: f.Partition}
		var err error
		if out[k], err = t.pairMaps.decided(ctx, k, next); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pace waits until the throttle allows the n fetched bytes. While the
// task waits it does not poll, and the fetcher fetches nothing until it
// does, so the source sees the cap.
func (t *task) pace(ctx context.Context, n int) error {
	for n > 0 {
		step := min(n, t.throttle.Burst())
		if err := t.throttle.WaitN(ctx, step); err != nil {
			return err
		}
		n -= step
	}
	return nil
}

// handleOutOfRange resumes a partition the source's retention overtook, or
// stops it, as the flow decides.
func (t *task) handleOutOfRange(ctx context.Context, topic string, partition int32) {
	p := t.part(topic, partition)
	if p == nil {
		return
	}
	if resume, ok := t.retention.outOfRange(ctx, p); ok {
		t.fetcher.SetOffset(topic, partition, resume)
		return
	}
	t.fetcher.Remove(map[string][]int32{topic: {partition}})
}

// close stops fetching and closes the task's client.
func (t *task) close() {
	t.fetcher.Close()
	t.cl.Close()
}
