package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// sharing is the flow as a member of its workers' group: it copies the
// partitions the group gives it and no other. The group calls it only
// while the flow's run runs (Run starts the membership after it opened
// the run, and leaves the group before it closes it).
type sharing struct{ fl *Flow }

var _ workgroup.Handler = sharing{}

// Topics are the topics ready to copy: selected, present on the target and
// not blocked.
func (s sharing) Topics() map[string]int32 {
	if s.fl.cfg.ExactlyOnce {
		return map[string]int32{slotTopic: int32(s.fl.cfg.TransactionSlots)}
	}
	return s.fl.cat.shares()
}

// Assigned loads the partitions' progress and starts copying them,
// retrying while the worker still owns them.
func (s sharing) Assigned(ctx context.Context, ps workgroup.Partitions) {
	r := s.fl.run.Load()
	if r.cfg.ExactlyOnce {
		r.gainSlots(ctx, slotsOwned(ps))
		return
	}
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		err := r.start(ctx, ps)
		if err == nil || ctx.Err() != nil {
			return
		}
		var fatal errFatal
		if errors.As(err, &fatal) {
			r.fail(err)
			return
		}
		r.log.Warn("starting to copy the assigned partitions failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if !r.member.Valid() {
			return // lost meanwhile: the group will say what is ours
		}
	}
}

// start begins copying partitions this worker now owns.
func (r *run) start(ctx context.Context, ps workgroup.Partitions) error {
	topics, keys := r.newlyOwned(ps)
	return r.copyPartitions(ctx, topics, keys, nil)
}

// newlyOwned returns the partitions of ps that are selected and not
// copied yet, and their topics.
func (r *run) newlyOwned(ps workgroup.Partitions) ([]discover.Topic, []progress.Partition) {
	var topics []discover.Topic
	var keys []progress.Partition
	for name, parts := range ps {
		t, ok := r.cat.available(name)
		if !ok {
			continue // no longer selected: the next rebalance takes it back
		}
		topics = append(topics, t)
		for _, p := range parts {
			if k := (progress.Partition{Topic: name, Partition: p}); r.copier.partition(k) == nil && p < t.Partitions {
				keys = append(keys, k)
			}
		}
	}
	return topics, keys
}

// copyPartitions loads partitions keys of topics and starts copying them,
// in slot s's transactions when s is set.
func (r *run) copyPartitions(ctx context.Context, topics []discover.Topic, keys []progress.Partition, s *slot) error {
	if len(keys) == 0 {
		return nil
	}
	parts, _, err := r.starter.load(ctx, topics, keys, s)
	if err != nil {
		return err
	}
	if err := r.awaitProducerMetadata(ctx, parts); err != nil {
		return err
	}
	count := map[string]int{}
	for _, p := range parts {
		count[p.key.Topic]++
	}
	for _, t := range topics {
		if count[t.Source] > 0 {
			r.log.Info("copying", "topic", t.Source, "target", t.Target, "partitions", count[t.Source])
		}
	}
	return r.copier.assign(parts)
}

// Revoked stops copying partitions the group moves to another worker, and
// persists their progress before the new owner starts.
func (s sharing) Revoked(ctx context.Context, ps workgroup.Partitions) {
	r := s.fl.run.Load()
	if r.cfg.ExactlyOnce {
		r.loseSlots(ctx, slotsOwned(ps), true)
		return
	}
	var keys []progress.Partition
	for topic, parts := range ps {
		for _, p := range parts {
			keys = append(keys, progress.Partition{Topic: topic, Partition: p})
		}
	}
	if err := r.release(ctx, keys, "handed to another worker; progress persisted"); err != nil && ctx.Err() == nil {
		// The partitions may still get records written: nobody else may
		// start on them while this process lives.
		r.fail(fmt.Errorf("hand over partitions: %w", err))
	}
}

// Lost drops every partition at once: the worker can no longer prove it
// owns them, so it must not copy into them, nor write their progress, any
// more. Records already handed to the producer are delivered for a bounded
// time, then aborted (see below); the next owner compares the target's
// tail with the source from the persisted progress, and copies again only
// what is not there.
func (s sharing) Lost(ctx context.Context, ps workgroup.Partitions) {
	r := s.fl.run.Load()
	if r.cfg.ExactlyOnce {
		r.loseSlots(ctx, slotsOwned(ps), false)
		r.log.Warn("dropped the slots this worker can no longer prove it owns; their next owner fences them and copies from what is committed",
			"slots", len(slotsOwned(ps)))
		return
	}
	var keys []progress.Partition
	for topic, parts := range ps {
		for _, p := range parts {
			keys = append(keys, progress.Partition{Topic: topic, Partition: p})
		}
	}
	keys = r.copier.drop(keys)
	// A produce request in flight may have been appended by a leader that
	// waits for its in-sync replicas (one of them died): the leader answers
	// REQUEST_TIMED_OUT, yet the records become visible once it drops the
	// dead replica from the ISR (replica.lag.time.max.ms, 30 s by default).
	// Failed (aborted), they would land behind the progress the partitions
	// resume from: duplicates, seen on Apache Kafka with the coordinator's
	// broker killed. Retried by the idempotent producer, they are written
	// once and acknowledged, and the resume finds them on the target. So
	// the records in flight are flushed first, for lostFlushTimeout; what
	// is still stuck then (a leader gone for longer) is aborted: failed
	// once its request is answered or timed out, not retried.
	fctx, cancel := context.WithTimeout(ctx, lostFlushTimeout)
	err := r.out.Flush(fctx)
	cancel()
	for err != nil {
		if ctx.Err() != nil {
			r.log.Error("stopping with produce requests of lost partitions in flight; they may still reach the target", "err", err)
			break
		}
		r.log.Warn("waiting for produce requests of lost partitions to be answered before rejoining", "err", err)
		actx, cancel := context.WithTimeout(ctx, r.cfg.SessionTimeout)
		err = r.out.Abort(actx)
		cancel()
	}
	r.log.Warn("stopped copying partitions this worker can no longer prove it owns; their next owner resumes from the persisted progress",
		"partitions", len(keys))
}

// release stops copying partitions: fetching stops, the records in flight
// are acknowledged, and the progress is persisted before they are
// forgotten.
func (r *run) release(ctx context.Context, keys []progress.Partition, why string) error {
	var gone []*partition
	var goneKeys []progress.Partition
	for _, k := range keys {
		if p := r.copier.partition(k); p != nil {
			gone, goneKeys = append(gone, p), append(goneKeys, k)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	r.copier.unfetch(goneKeys)
	if err := r.persistReleased(ctx, gone); err != nil {
		return err
	}
	r.copier.forget(goneKeys)
	topics := map[string]int{}
	for _, p := range gone {
		topics[p.key.Topic]++
	}
	for topic, n := range topics {
		r.log.Info("stopped copying: "+why, "topic", topic, "partitions", n)
	}
	return nil
}

// persistReleased persists the progress of partitions the tasks no longer
// copy: once their records in flight are acknowledged, or, in exactly-once
// mode, by committing their slots' transactions.
func (r *run) persistReleased(ctx context.Context, gone []*partition) error {
	if r.cfg.ExactlyOnce {
		return r.commitSlotsOf(ctx, gone)
	}
	deadline := time.Now().Add(StopTimeout)
	for _, p := range gone {
		for p.inFlight() > 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("stop copying %s[%d]: records still unacknowledged after %s", p.key.Topic, p.key.Partition, StopTimeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return r.flush(ctx)
}

// lostFlushTimeout bounds how long a worker that lost its partitions lets
// its produce requests in flight be retried before it fails them: longer
// than a leader takes to drop a dead replica from its ISR
// (replica.lag.time.max.ms, 30 s) and answer them.
const lostFlushTimeout = 45 * time.Second

// errFatal says starting partitions failed for a reason no retry helps
// with: the stored progress belongs to another source cluster, or what
// MirrorMaker 2 left cannot be taken over.
type errFatal struct{ error }
