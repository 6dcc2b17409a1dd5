package mirror

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// offsets are the log offsets of the partitions being loaded, listed once.
type offsets struct {
	srcStarts, srcEnds, tgtStarts, tgtEnds kadm.ListedOffsets
}

// load builds the state of new partitions: from the stored progress and
// offset syncs when there are any, else from where MirrorMaker 2 left them
// when it copied them, else from the start position. A dry run (a plan)
// takes over even while MM2 runs, and writes nothing either way.
func (fl *Flow) load(ctx context.Context, topics []discover.Topic, keys []progress.Partition, dryRun bool) ([]*partition, []TakenOver, error) {
	stored, histories, err := fl.cache.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !dryRun {
		if err := fl.moveLegacyMap(ctx); err != nil {
			return nil, nil, err
		}
	}
	byName := map[string]discover.Topic{}
	var names []string
	for _, t := range topics {
		byName[t.Source] = t
		names = append(names, t.Source)
	}
	var o offsets
	if o.srcStarts, err = fl.srcAdm.ListStartOffsets(ctx, names...); err != nil {
		return nil, nil, fmt.Errorf("list source offsets: %w", err)
	}
	if o.srcEnds, err = fl.srcAdm.ListEndOffsets(ctx, names...); err != nil {
		return nil, nil, fmt.Errorf("list source offsets: %w", err)
	}
	if o.tgtEnds, err = endOffsets(ctx, fl.tgtAdm, topics); err != nil {
		return nil, nil, fmt.Errorf("list target offsets: %w", err)
	}
	targets := make([]string, len(topics))
	for i, t := range topics {
		targets[i] = t.Target
	}
	if o.tgtStarts, err = fl.tgtAdm.ListStartOffsets(ctx, targets...); err != nil {
		return nil, nil, fmt.Errorf("list target offsets: %w", err)
	}
	// Partitions kmirror never copied may have been MM2's.
	mm2s := mm2State{syncs: maps.Clone(histories), elsewhere: map[progress.Partition]bool{}}
	if slices.ContainsFunc(keys, func(k progress.Partition) bool { _, ok := stored[k]; return !ok }) {
		if mm2s.next, mm2s.topic, err = fl.readMM2Positions(ctx); err != nil {
			return nil, nil, err
		}
		if err := fl.readMM2SyncsElsewhere(ctx, &mm2s); err != nil {
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
			p, r, err := fl.fromSaved(k, t, saved, o)
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
			p, r, err := fl.fromStart(k, t, o)
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
		if mm2s.next, mm2s.topic, err = fl.readMM2Positions(ctx); err != nil {
			return nil, nil, err
		}
	}
	back, err := fl.handedBack(ctx, &mm2s, past)
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
	taken, reports, err := fl.takeOver(ctx, mm2s, fromMM2, byName, o, dryRun)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, taken...)
	if fl.cfg.ExactlyOnce {
		// The progress read covers exactly what is committed, the slot
		// fenced: what the target holds past it was aborted, or is no copy.
		for _, r := range crashed {
			r.p.skipTarget(r.tgtEnd)
		}
		return out, reports, nil
	}
	matched, err := fl.resume(ctx, crashed)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range crashed {
		log := fl.log.With("topic", r.p.key.Topic, "partition", r.p.key.Partition)
		n, past := matched[r.p.key], r.tgtEnd-r.from
		if n > 0 {
			log.Info("resumed after the records a previous worker copied but did not persist; none is copied twice", "records", n)
		}
		if int64(n) < past {
			log.Warn("the target holds records past the saved progress (or, with none, at all) that are not (or, past the first 100000, not checked to be) copies of the source's next ones; copying appends after them",
				"matched", n, "target_records", past)
		}
	}
	return out, reports, nil
}

// fromSaved builds partition k of topic t from its saved progress, and
// says where to compare the target's tail with the source when the target
// holds more than the progress covers (a crash, or a worker that lost its
// lease, wrote past it). A topic created again since the progress was
// written is not copied: nil, nil.
func (fl *Flow) fromSaved(k progress.Partition, t discover.Topic, saved progress.Saved, o offsets) (*partition, *resumeFrom, error) {
	if saved.ClusterID != fl.clusterID {
		return nil, nil, errFatal{fmt.Errorf("the progress of %s[%d] on %q was written for source cluster %s, but %q is cluster %s: is this the right source?",
			k.Topic, k.Partition, fl.cfg.Target, saved.ClusterID, fl.cfg.Source, fl.clusterID)}
	}
	if saved.TopicID != t.ID {
		fl.mu.Lock()
		if !fl.recreated[k.Topic] {
			fl.recreated[k.Topic] = true
			fl.log.Error(recreatedReason, "topic", k.Topic)
		}
		fl.mu.Unlock()
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
	p := fl.newPartition(k, t, saved.CopyMap())
	p.mm2 = saved.MM2
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
func (fl *Flow) fromStart(k progress.Partition, t discover.Topic, o offsets) (*partition, *resumeFrom, error) {
	start, ok := o.srcStarts.Lookup(k.Topic, k.Partition)
	if !ok || start.Err != nil {
		return nil, nil, fmt.Errorf("start offset of %s[%d]: %v", k.Topic, k.Partition, start.Err)
	}
	from := start.Offset
	send, sok := o.srcEnds.Lookup(k.Topic, k.Partition)
	if fl.cfg.Consumer.StartAt == "latest" && sok && send.Err == nil {
		from = send.Offset
	}
	tstart, tsok := o.tgtStarts.Lookup(t.Target, k.Partition)
	tend, teok := o.tgtEnds.Lookup(t.Target, k.Partition)
	if !tsok || tstart.Err != nil || !teok || tend.Err != nil || !sok || send.Err != nil {
		return nil, nil, fmt.Errorf("offsets of %s[%d] and target %s[%d]: not available (%v, %v, %v)", k.Topic, k.Partition, t.Target, k.Partition,
			send.Err, tstart.Err, tend.Err)
	}
	p := fl.newPartition(k, t, offsetmap.New(from, tstart.Offset))
	p.dirty = true
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

const recreatedReason = "the source topic was deleted and created again since it was mirrored; not copying it on top of the old copy: delete its records from the progress topic to start over"

// newPartition makes the copy state of source partition k of topic t, with
// offset map m, tied to this run of the flow.
func (fl *Flow) newPartition(k progress.Partition, t discover.Topic, m *offsetmap.Partition) *partition {
	p := newPartition(k, t.Target, t.ID, m, fl.producer, fl.fail,
		fl.metrics.partition(fl.cfg.Source, fl.cfg.Target, k.Topic, fl.paired != nil || fl.cfg.ProvenanceHeader))
	if fl.cfg.ProvenanceHeader {
		p.origin = &origin{source: []byte(fl.clusterID), target: []byte(fl.targetID)}
	}
	if fl.cfg.EmitOffsetSyncs {
		p.syncEvery = int64(fl.cfg.OffsetLagMax)
	}
	return p
}
