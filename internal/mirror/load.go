package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// starter builds the partitions a worker starts to copy, from their
// stored progress, from where MirrorMaker 2 left them, or from the start
// position, comparing the target's tail with the source where a previous
// owner may have copied past what it persisted. A run makes one; a plan
// makes one for a dry run, which writes nothing.
type starter struct {
	*conn
	cfg      *config.Flow
	src, tgt *config.Cluster
	log      *slog.Logger
	// cache reads back what the workers persisted.
	cache *progress.Cache
	// store writes the progress; nil in a dry run.
	store *progress.Store
	// cat learns of the topics created again since they were copied.
	cat     *catalogue
	fail    func(error)
	metrics *Metrics
	// skips says copies may be skipped (a flow the other way, or
	// provenance headers): the partitions count what they skip.
	skips bool
}

// dryRun tells whether the starter only plans: it takes over even while
// MM2 runs, and writes nothing.
func (sr *starter) dryRun() bool { return sr.store == nil }

// moveLegacyMap moves the exact offset map an older kmirror kept in the
// offset-syncs topic, as the cache last read it, to the map's own topic,
// so that the offset-syncs topic holds MM2's format alone, and says what
// it did. It runs after a read of the cache, not when the flow opens: in
// exactly-once mode a read waits for open transactions, which only the
// slots' fencing ends.
func (sr *starter) moveLegacyMap(ctx context.Context) error {
	legacy := sr.cache.Legacy()
	if len(legacy) == 0 {
		return nil
	}
	n, err := sr.store.MoveLegacy(ctx, legacy)
	if err != nil {
		return err
	}
	at, syncs := sr.cfg.OffsetSyncs()
	sr.log.Info("moved the exact offset map out of the offset-syncs topic, which MirrorMaker 2 reads, into a topic of its own; "+
		"MM2 can read the offset-syncs topic again once compaction has removed the moved records' tombstones "+
		"(delete.retention.ms after they are compacted), or at once if it is deleted with every worker stopped (kmirror makes it again)",
		"segments", n, "partitions", len(legacy), "from", syncs, "on", at, "to", sr.cfg.OffsetMapTopic())
	return nil
}

// offsets are the log offsets of the partitions being loaded, listed once.
type offsets struct {
	srcStarts, srcEnds, tgtStarts, tgtEnds kadm.ListedOffsets
}

// load builds the state of new partitions, copied in slot s's
// transactions when s is set: from the stored progress and offset syncs
// when there are any, else from where MirrorMaker 2 left them when it
// copied them, else from the start position.
func (sr *starter) load(ctx context.Context, topics []discover.Topic, keys []progress.Partition, s *slot) ([]*partition, []TakenOver, error) {
	stored, histories, err := sr.cache.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !sr.dryRun() {
		if err := sr.moveLegacyMap(ctx); err != nil {
			return nil, nil, err
		}
	}
	byName := map[string]discover.Topic{}
	for _, t := range topics {
		byName[t.Source] = t
	}
	o, err := sr.listOffsets(ctx, topics)
	if err != nil {
		return nil, nil, err
	}
	// Partitions kmirror never copied may have been MM2's.
	mm2s := mm2State{syncs: maps.Clone(histories), elsewhere: map[progress.Partition]bool{}}
	if slices.ContainsFunc(keys, func(k progress.Partition) bool { _, ok := stored[k]; return !ok }) {
		if mm2s.next, mm2s.topic, err = sr.readMM2Positions(ctx); err != nil {
			return nil, nil, err
		}
		if err := sr.readMM2SyncsElsewhere(ctx, &mm2s); err != nil {
			return nil, nil, err
		}
	}
	var out []*partition
	var crashed, past []resumeFrom
	var fromMM2 []progress.Partition
	for _, k := range keys {
		t := byName[k.Topic]
		saved, ok := stored[k]
		switch {
		case ok:
			p, r, err := sr.fromSaved(k, t, saved, o, s)
			if err != nil {
				return nil, nil, err
			}
			if r != nil {
				past = append(past, *r)
			} else if p != nil {
				out = append(out, p)
			}
		case mm2s.takenOver(k):
			fromMM2 = append(fromMM2, k)
		default:
			p, r, err := sr.fromStart(k, t, o, s)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, p)
			if r != nil {
				crashed = append(crashed, *r)
			}
		}
	}
	// Past kmirror's progress the target holds what a worker copied before
	// it crashed, or what MM2 copied after a hand-back.
	if len(past) > 0 && mm2s.next == nil {
		if mm2s.next, mm2s.topic, err = sr.readMM2Positions(ctx); err != nil {
			return nil, nil, err
		}
	}
	back, err := sr.handedBack(ctx, &mm2s, past)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range past {
		if back[r.p.key] {
			fromMM2 = append(fromMM2, r.p.key)
		} else {
			out = append(out, r.p)
			crashed = append(crashed, r)
		}
	}
	taken, reports, err := sr.takeOver(ctx, mm2s, fromMM2, byName, o, s)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, taken...)
	if sr.cfg.ExactlyOnce {
		// The progress read covers exactly what is committed, the slot
		// fenced: what the target holds past it was aborted, or is no copy.
		for _, r := range crashed {
			r.p.skipTarget(r.tgtEnd)
		}
		return out, reports, nil
	}
	if err := sr.resumeCrashed(ctx, crashed); err != nil {
		return nil, nil, err
	}
	return out, reports, nil
}

// listOffsets lists the log offsets of topics on both clusters, once for
// all the partitions being loaded.
func (sr *starter) listOffsets(ctx context.Context, topics []discover.Topic) (o offsets, err error) {
	names := make([]string, len(topics))
	targets := make([]string, len(topics))
	for i, t := range topics {
		names[i], targets[i] = t.Source, t.Target
	}
	if o.srcStarts, err = sr.srcAdm.ListStartOffsets(ctx, names...); err != nil {
		return o, fmt.Errorf("list source offsets: %w", err)
	}
	if o.srcEnds, err = sr.srcAdm.ListEndOffsets(ctx, names...); err != nil {
		return o, fmt.Errorf("list source offsets: %w", err)
	}
	if o.tgtEnds, err = endOffsets(ctx, sr.tgtAdm, topics); err != nil {
		return o, fmt.Errorf("list target offsets: %w", err)
	}
	if o.tgtStarts, err = sr.tgtAdm.ListStartOffsets(ctx, targets...); err != nil {
		return o, fmt.Errorf("list target offsets: %w", err)
	}
	return o, nil
}

// resumeCrashed moves the partitions of crashed past the records a
// previous worker copied past their progress (resume), and says how many
// it found.
func (sr *starter) resumeCrashed(ctx context.Context, crashed []resumeFrom) error {
	matched, err := sr.resume(ctx, crashed)
	if err != nil {
		return err
	}
	for _, r := range crashed {
		log := sr.log.With("topic", r.p.key.Topic, "partition", r.p.key.Partition)
		n, past := matched[r.p.key], r.tgtEnd-r.from
		if n > 0 {
			log.Info("resumed after the records a previous worker copied but did not persist; none is copied twice", "records", n)
		}
		if int64(n) < past {
			log.Warn("the target holds records past the saved progress (or, with none, at all) that are not (or, past the first 100000, not checked to be) copies of the source's next ones; copying appends after them",
				"matched", n, "target_records", past)
		}
	}
	return nil
}

// fromSaved builds partition k of topic t from its saved progress, and
// says where to compare the target's tail with the source when the target
// holds more than the progress covers (a crash, or a worker that lost its
// lease, wrote past it). A topic created again since the progress was
// written is not copied: nil, nil.
func (sr *starter) fromSaved(k progress.Partition, t discover.Topic, saved progress.Saved, o offsets, s *slot) (*partition, *resumeFrom, error) {
	if saved.ClusterID != sr.clusterID {
		return nil, nil, errFatal{fmt.Errorf("the progress of %s[%d] on %q was written for source cluster %s, but %q is cluster %s: is this the right source?",
			k.Topic, k.Partition, sr.cfg.Target, saved.ClusterID, sr.cfg.Source, sr.clusterID)}
	}
	if saved.TopicID != t.ID {
		if sr.cat.recreate(k.Topic) {
			sr.log.Error(recreatedReason, "topic", k.Topic)
		}
		return nil, nil, nil
	}
	// Without the target's end, records a previous owner copied past the
	// stored progress would go unseen and be copied again: the start is
	// retried instead (a leader frozen or just moved does not answer).
	tend, tok := o.tgtEnds.Lookup(t.Target, k.Partition)
	send, sok := o.srcEnds.Lookup(k.Topic, k.Partition)
	if !tok || tend.Err != nil || !sok || send.Err != nil {
		return nil, nil, fmt.Errorf("end offsets of %s[%d] and target %s[%d]: not available (%v, %v)", k.Topic, k.Partition, t.Target, k.Partition, send.Err, tend.Err)
	}
	p := sr.newPartition(k, t, saved.CopyMap(), saved.MM2, false, s)
	if end := saved.Map.End().Target; tend.Offset > end {
		return p, &resumeFrom{p: p, from: end, tgtEnd: tend.Offset, srcEnd: send.Offset}, nil
	}
	return p, nil, nil
}

// fromStart builds partition k of topic t, which has no progress: copied
// from the source's log start, or its end with
// consumer.auto.offset.reset=latest. When the target partition already
// holds records (a worker copied them and died before it first persisted
// its progress), they are compared from the target's log start with the
// source from the start position, so that copies are not made twice.
func (sr *starter) fromStart(k progress.Partition, t discover.Topic, o offsets, s *slot) (*partition, *resumeFrom, error) {
	start, ok := o.srcStarts.Lookup(k.Topic, k.Partition)
	if !ok || start.Err != nil {
		return nil, nil, fmt.Errorf("start offset of %s[%d]: %v", k.Topic, k.Partition, start.Err)
	}
	from := start.Offset
	send, sok := o.srcEnds.Lookup(k.Topic, k.Partition)
	if sr.cfg.Consumer.StartAt == "latest" && sok && send.Err == nil {
		from = send.Offset
	}
	tstart, tsok := o.tgtStarts.Lookup(t.Target, k.Partition)
	tend, teok := o.tgtEnds.Lookup(t.Target, k.Partition)
	if !tsok || tstart.Err != nil || !teok || tend.Err != nil || !sok || send.Err != nil {
		return nil, nil, fmt.Errorf("offsets of %s[%d] and target %s[%d]: not available (%v, %v, %v)", k.Topic, k.Partition, t.Target, k.Partition,
			send.Err, tstart.Err, tend.Err)
	}
	p := sr.newPartition(k, t, offsetmap.New(from, tstart.Offset), nil, true, s)
	if tend.Offset > tstart.Offset {
		return p, &resumeFrom{p: p, from: tstart.Offset, tgtEnd: tend.Offset, srcEnd: send.Offset}, nil
	}
	return p, nil, nil
}

// endOffsets lists the end offsets of target topics, waiting briefly for
// topics just created or grown to show all their partitions.
func endOffsets(ctx context.Context, adm *kadm.Client, topics []discover.Topic) (kadm.ListedOffsets, error) {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Target
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(ctx, names...)
		complete := err == nil
		for _, t := range topics {
			for p := range t.Partitions {
				if o, ok := ends.Lookup(t.Target, p); !ok || o.Err != nil {
					complete = false
				}
			}
		}
		if complete || time.Now().After(deadline) {
			return ends, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// newPartition makes the copy state of source partition k of topic t,
// with offset map m and, below it, MM2's syncs h; dirty says its progress
// is not persisted yet. It copies in slot s's transactions when s is set,
// else with the run's producer.
func (sr *starter) newPartition(k progress.Partition, t discover.Topic, m *offsetmap.Map, h mm2.History, dirty bool, s *slot) *partition {
	spec := partitionSpec{key: k, target: t.Target, topicID: t.ID, m: m, mm2: h, dirty: dirty,
		fail: sr.fail, metrics: sr.metrics.partition(sr.cfg.Source, sr.cfg.Target, k.Topic, sr.skips)}
	if s != nil {
		spec.slot, spec.producer, spec.fail = s, s.producer, s.fail
	}
	if sr.cfg.ProvenanceHeader {
		spec.origin = &origin{source: []byte(sr.clusterID), target: []byte(sr.targetID)}
	}
	if sr.cfg.EmitOffsetSyncs {
		spec.syncEvery = int64(sr.cfg.OffsetLagMax)
	}
	return newPartition(spec)
}
