package mirror

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/policy"
	"github.com/kmirror/kmirror/internal/progress"
)

// peerPoll is how often a flow waiting for its peer's decision reads the
// peer's progress again.
const peerPoll = 100 * time.Millisecond

// peerWarnAfter is how long a flow waits for its peer's decision before
// it says so.
const peerWarnAfter = 30 * time.Second

// peer is the flow that copies the other way between the same clusters
// under the same topic names (B->A for A->B, identity replication both
// ways). The records it wrote to this flow's source are copies of this
// flow's target's records, and must not be copied back. Its exact offset
// map, as it persisted it on this flow's source, tells which they are: a
// source offset below the map's target end is the peer's copy when a
// segment covers it, and a record written on the source otherwise. An
// offset at or past that end is not decided yet: the peer may still be
// writing it. The peer moves its end past the records others wrote on its
// target at each commit (exactly-once mode) or flush (Flow.decide), so
// that the wait is short even while it copies nothing.
type peer struct {
	cfg *config.Flow
	// wait says the peer's map alone tells its copies: without it (the
	// copies carry the provenance header), what the map has not decided
	// yet is not waited for.
	wait   bool
	filter policy.Filter
	cache  *progress.Cache
	log    *slog.Logger

	mu   sync.Mutex
	snap progress.Snapshot
	at   time.Time
}

// newPeer follows flow f's persisted progress; src and tgt are f's
// clusters (this flow's target and source). Close releases it.
func newPeer(f *config.Flow, src, tgt *config.Cluster, wait bool, log *slog.Logger) (*peer, error) {
	c, err := progress.NewCache(f, src, tgt, log)
	if err != nil {
		return nil, err
	}
	return &peer{cfg: f, wait: wait, filter: policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}, cache: c,
		log: log.With("peer", f.Name())}, nil
}

func (pe *peer) close() { pe.cache.Close() }

// decided waits until the peer's map of partition p decides every offset
// below end, and returns it; nil when the peer copies nothing into p (it
// does not select the topic). Only ctx ends the wait: a peer that does not
// run holds this flow's copying of what it has not decided.
func (pe *peer) decided(ctx context.Context, p progress.Partition, end int64) (*offsetmap.Partition, error) {
	if v, err := pe.filter.Select(p.Topic); err == nil && !v.Selected {
		return nil, nil
	}
	if !pe.wait {
		m, err := pe.covering(ctx, p, end)
		if err != nil && ctx.Err() == nil {
			pe.log.Warn("reading the progress of the flow the other way failed; telling its copies by their header alone", "err", err)
			return nil, nil
		}
		return m, err
	}
	began, warned := time.Now(), false
	for {
		pe.mu.Lock()
		snap, at := pe.snap, pe.at
		pe.mu.Unlock()
		if s, ok := snap[p]; ok && s.Map.End().Target >= end {
			return s.Map, nil
		}
		if !warned && time.Since(began) > peerWarnAfter {
			warned = true
			pe.log.Warn("waiting for the flow the other way to tell its copies from the records written here; is it running?",
				"topic", p.Topic, "partition", p.Partition, "offset", end-1)
		}
		if wait := peerPoll - time.Since(at); wait > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		pe.mu.Lock()
		if pe.at != at { // another task read meanwhile
			pe.mu.Unlock()
			continue
		}
		pe.mu.Unlock()
		s, _, err := pe.cache.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The fetched records wait: dropping them would lose them.
			pe.log.Warn("reading the progress of the flow the other way failed; retrying", "err", err)
			s = snap
		}
		pe.mu.Lock()
		pe.snap, pe.at = s, time.Now()
		pe.mu.Unlock()
	}
}

// covering returns the peer's map of partition p, read again when the
// last read does not cover offset least of this flow's source; nil when
// the peer has none. It does not wait: a translation past what the peer
// decided is not made yet.
func (pe *peer) covering(ctx context.Context, p progress.Partition, least int64) (*offsetmap.Partition, error) {
	pe.mu.Lock()
	snap, at := pe.snap, pe.at
	pe.mu.Unlock()
	// Read again at most every peerPoll: a round of translations asks
	// for every group's every partition.
	if s, ok := snap[p]; ok && (s.Map.End().Target >= least || time.Since(at) < peerPoll) {
		return s.Map, nil
	}
	snap, _, err := pe.cache.Read(ctx)
	if err != nil {
		return nil, err
	}
	pe.mu.Lock()
	pe.snap, pe.at = snap, time.Now()
	pe.mu.Unlock()
	if s, ok := snap[p]; ok {
		return s.Map, nil
	}
	return nil, nil
}

// Paired returns the flow's View when the same names are copied the other
// way: translations from what the flow persisted, through the peer's map
// too (progress.Paired); nil otherwise.
func (fl *Flow) Paired() progress.View {
	if fl.paired == nil {
		return nil
	}
	return progress.Paired(fl.Saved, func(ctx context.Context, p progress.Partition, least int64) (*offsetmap.Partition, error) {
		var pe *peer
		if r := fl.run.Load(); r != nil {
			pe = r.peer
		}
		if pe == nil { // not running: from the clusters
			s, err := progress.Read(ctx, fl.paired, fl.tgt, fl.src, fl.log)
			if err != nil {
				return nil, err
			}
			return s[p].Map, nil
		}
		return pe.covering(ctx, p, least)
	})
}

// decide moves the target end of partitions past the records others
// wrote on the target since the last copy, so that the flow the other
// way, which tells this flow's copies from the records written there by
// this flow's map, need not wait for the next copy. Only a partition with
// no copy in flight, and none handed to the producer between the two
// looks, moves: every record up to the listed end is then this flow's
// copy, already in the map, or another writer's. In exactly-once mode it
// runs in a commit, with the slot's gate held alone and its producer
// flushed. A failed listing is logged and tried again next time.
func (r *run) decide(ctx context.Context, parts []*partition) {
	idle := map[*partition]uint64{}
	var targets []string
	for _, p := range parts {
		p.mu.Lock()
		if len(p.inflight) == 0 && p.failed == nil {
			idle[p] = p.sent
			if !slices.Contains(targets, p.target) {
				targets = append(targets, p.target)
			}
		}
		p.mu.Unlock()
	}
	if len(targets) == 0 {
		return
	}
	ends, err := r.tgtAdm.ListEndOffsets(ctx, targets...)
	if err != nil {
		r.log.Warn("listing the target ends to tell the flow the other way what was written here failed; retrying", "err", err)
		return
	}
	for p, sent := range idle {
		if o, ok := ends.Lookup(p.target, p.key.Partition); ok && o.Err == nil {
			p.skipTargetIfIdle(o.Offset, sent)
		}
	}
}

// skipTargetIfIdle moves the next target offset up to end, unless a copy
// is in flight or a fetch was handed to the producer since sent.
func (p *partition) skipTargetIfIdle(end int64, sent uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.inflight) > 0 || p.sent != sent || p.failed != nil {
		return
	}
	before := p.m.End().Target
	p.segments = append(p.segments, p.m.SkipTarget(end)...)
	if p.m.End().Target != before {
		p.dirty = true
	}
}
