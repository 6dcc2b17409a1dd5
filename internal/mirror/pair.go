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

// pairPoll is how often a flow waiting for its pair's decision reads the
// pair's progress again.
const pairPoll = 100 * time.Millisecond

// pairWarnAfter is how long a flow waits for its pair's decision before
// it says so.
const pairWarnAfter = 30 * time.Second

// pairMaps follows the maps of the flow's pair: the flow that copies the
// other way between the same clusters under the same topic names (B->A
// for A->B, identity replication both ways). The records the pair wrote to this flow's source are copies of this
// flow's target's records, and must not be copied back. Its exact offset
// map, as it persisted it on this flow's source, tells which they are: a
// source offset below the map's target end is the pair's copy when a
// segment covers it, and a record written on the source otherwise. An
// offset at or past that end is not decided yet: the pair may still be
// writing it. The pair moves its end past the records others wrote on its
// target at each commit (exactly-once mode) or flush (Flow.decide), so
// that the wait is short even while it copies nothing.
type pairMaps struct {
	cfg *config.Flow
	// wait says the pair's map alone tells its copies: without it (the
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

// followPair follows flow f's persisted progress; src and tgt are f's
// clusters (this flow's target and source). Close releases it.
func followPair(f *config.Flow, src, tgt *config.Cluster, wait bool, log *slog.Logger) (*pairMaps, error) {
	c, err := progress.NewCache(f, src, tgt, log)
	if err != nil {
		return nil, err
	}
	return &pairMaps{cfg: f, wait: wait, filter: policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}, cache: c,
		log: log.With("pair", f.Name())}, nil
}

func (pm *pairMaps) close() { pm.cache.Close() }

// decided waits until the pair's map of partition p decides every offset
// below end, and returns it; nil when the pair copies nothing into p (it
// does not select the topic). Only ctx ends the wait: a pair that does not
// run holds this flow's copying of what it has not decided.
func (pm *pairMaps) decided(ctx context.Context, p progress.Partition, end int64) (*offsetmap.Map, error) {
	if v, err := pm.filter.Select(p.Topic); err == nil && !v.Selected {
		return nil, nil
	}
	if !pm.wait {
		m, err := pm.covering(ctx, p, end)
		if err != nil && ctx.Err() == nil {
			pm.log.Warn("reading the progress of the flow the other way failed; telling its copies by their header alone", "err", err)
			return nil, nil
		}
		return m, err
	}
	began, warned := time.Now(), false
	for {
		pm.mu.Lock()
		snap, at := pm.snap, pm.at
		pm.mu.Unlock()
		if s, ok := snap[p]; ok && s.Map.End().Target >= end {
			return s.Map, nil
		}
		if !warned && time.Since(began) > pairWarnAfter {
			warned = true
			pm.log.Warn("waiting for the flow the other way to tell its copies from the records written here; is it running?",
				"topic", p.Topic, "partition", p.Partition, "offset", end-1)
		}
		if wait := pairPoll - time.Since(at); wait > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		pm.mu.Lock()
		if pm.at != at { // another task read meanwhile
			pm.mu.Unlock()
			continue
		}
		pm.mu.Unlock()
		s, _, err := pm.cache.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The fetched records wait: dropping them would lose them.
			pm.log.Warn("reading the progress of the flow the other way failed; retrying", "err", err)
			s = snap
		}
		pm.mu.Lock()
		pm.snap, pm.at = s, time.Now()
		pm.mu.Unlock()
	}
}

// covering returns the pair's map of partition p, read again when the
// last read does not cover offset least of this flow's source; nil when
// the pair has none. It does not wait: a translation past what the pair
// decided is not made yet.
func (pm *pairMaps) covering(ctx context.Context, p progress.Partition, least int64) (*offsetmap.Map, error) {
	pm.mu.Lock()
	snap, at := pm.snap, pm.at
	pm.mu.Unlock()
	// Read again at most every pairPoll: a round of translations asks
	// for every group's every partition.
	if s, ok := snap[p]; ok && (s.Map.End().Target >= least || time.Since(at) < pairPoll) {
		return s.Map, nil
	}
	snap, _, err := pm.cache.Read(ctx)
	if err != nil {
		return nil, err
	}
	pm.mu.Lock()
	pm.snap, pm.at = snap, time.Now()
	pm.mu.Unlock()
	if s, ok := snap[p]; ok {
		return s.Map, nil
	}
	return nil, nil
}

// pairView is the flow's View when it has a pair: translations from what
// the flow persisted, through the pair's map too (progress.WithPair). The
// run's follower of the pair answers while the flow runs; otherwise the
// pair's progress is read from the clusters once for the view.
func (fl *Flow) pairView() progress.View {
	var (
		mu      sync.Mutex
		stopped progress.Snapshot // read once, when the flow does not run
	)
	return progress.WithPair(fl.Saved, func(ctx context.Context, p progress.Partition, least int64) (*offsetmap.Map, error) {
		if r := fl.run.Load(); r != nil {
			return r.pairMaps.covering(ctx, p, least)
		}
		mu.Lock()
		defer mu.Unlock()
		if stopped == nil {
			s, err := progress.Read(ctx, fl.pair, fl.tgt, fl.src, fl.log)
			if err != nil {
				return nil, err
			}
			stopped = s
		}
		return stopped[p].Map, nil
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
		if p.inFlightLocked() == 0 && p.failed == nil {
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
	if p.inFlightLocked() > 0 || p.sent != sent || p.failed != nil {
		return
	}
	before := p.m.End().Target
	p.segments = append(p.segments, p.m.SkipTarget(end)...)
	if p.m.End().Target != before {
		p.dirty = true
	}
}
