package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// task copies a set of source partitions with its own consumer, into
// their producers.
type task struct {
	id       int
	consumer *kgo.Client
	taskDeps

	mu    sync.Mutex
	parts map[progress.Partition]*partition
	// copying is held while a fetch is handed to the producer, so that a
	// removed partition gets no record after remove returns.
	copying sync.Mutex
}

// taskDeps are what a task needs of its flow, given when it is made.
type taskDeps struct {
	consumerOpts []kgo.Opt
	log          *slog.Logger
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
	cl, err := kgo.NewClient(append(slices.Clip(d.consumerOpts),
		// Control records tell where transaction markers are, so that the
		// mirrored end moves past them.
		kgo.KeepControlRecords(),
		// Retention overtaking the mirror must be an error, not a silent
		// jump to the new log start.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("task %d consumer: %w", id, err)
	}
	d.log = d.log.With("task", id)
	return &task{id: id, consumer: cl, taskDeps: d, parts: map[progress.Partition]*partition{}}, nil
}

// add starts copying partitions from their mirrored ends.
func (t *task) add(parts []*partition) {
	offsets := map[string]map[int32]kgo.Offset{}
	t.mu.Lock()
	for _, p := range parts {
		t.parts[p.key] = p
		if offsets[p.key.Topic] == nil {
			offsets[p.key.Topic] = map[int32]kgo.Offset{}
		}
		offsets[p.key.Topic][p.key.Partition] = kgo.NewOffset().At(p.end().Source)
	}
	t.mu.Unlock()
	t.consumer.AddConsumePartitions(offsets)
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
		t.consumer.RemoveConsumePartitions(topics)
	}
}

func (t *task) part(topic string, partition int32) *partition {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.parts[progress.Partition{Topic: topic, Partition: partition}]
}

// run copies until ctx ends.
func (t *task) run(ctx context.Context) error {
	for {
		fs := t.consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			if errors.Is(err, kerr.OffsetOutOfRange) {
				t.handleOutOfRange(ctx, topic, partition)
				return
			}
			// Retriable errors are retried inside franz-go; what reaches us
			// is worth a line, not a stop.
			t.log.Warn("fetch", "topic", topic, "partition", partition, "err", err)
		})
		if t.throttle != nil {
			if err := t.pace(ctx, fs); err != nil {
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
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if p := t.part(fp.Topic, fp.Partition); p != nil {
				p.produce(fp.Records, copies[p.key])
			}
		})
		t.copying.Unlock()
		// A partition failure cancels the flow at once through
		// partition.fail; the next poll then returns.
	}
}

// pairCopies returns, for each partition of fs, the pair's map that tells
// its copies among the fetched records (none without a pair), once it
// decides them all. Only the end of ctx makes it fail.
func (t *task) pairCopies(ctx context.Context, fs kgo.Fetches) (map[progress.Partition]*offsetmap.Map, error) {
	if t.pairMaps == nil {
		return nil, nil
	}
	out := map[progress.Partition]*offsetmap.Map{}
	var err error
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if err != nil || len(fp.Records) == 0 {
			return
		}
		k := progress.Partition{Topic: fp.Topic, Partition: fp.Partition}
		out[k], err = t.pairMaps.decided(ctx, k, fp.Records[len(fp.Records)-1].Offset+1)
	})
	return out, err
}

// pace waits until the throttle allows the fetched bytes. While the task
// waits it does not poll, and franz-go fetches no further than what it has
// buffered, so the source sees the cap.
func (t *task) pace(ctx context.Context, fs kgo.Fetches) error {
	n := 0
	fs.EachRecord(func(r *kgo.Record) { n += recordSize(r) })
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
		t.consumer.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {partition: {Epoch: -1, Offset: resume}}})
		return
	}
	t.consumer.RemoveConsumePartitions(map[string][]int32{topic: {partition}})
}

func (t *task) close() { t.consumer.Close() }
