package progress

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// Pair is the one reader, outside the running workers, of what a flow
// persisted and of what its paired flow persisted: the flow that copies
// the other way under the same topic names (config.Config.Paired), whose
// map a translation of the flow's offsets needs too. It follows the
// topics of each through a Cache: a Pair kept for long (a status that
// refreshes) reads them whole once and then only what was written since;
// a command that reads once (verify, rollback) closes it after. Close it
// when done.
type Pair struct {
	paired *config.Flow
	// own follows the flow's topics; pairedCache, nil without a paired
	// flow, the paired flow's (on the flow's source: its target).
	own, pairedCache *Cache

	closeOnce sync.Once
}

// NewPair prepares the reader of flow f, between src and tgt, and of its
// paired flow, nil when it has none; nothing is read before the first
// Own, Paired or View.
func NewPair(f, paired *config.Flow, src, tgt *config.Cluster, log *slog.Logger) (*Pair, error) {
	own, err := NewCache(f, src, tgt, log)
	if err != nil {
		return nil, err
	}
	p := &Pair{paired: paired, own: own}
	if paired != nil {
		// The paired flow copies tgt to src.
		if p.pairedCache, err = NewCache(paired, tgt, src, log); err != nil {
			own.Close()
			return nil, err
		}
	}
	return p, nil
}

// Close closes the reader's clients. It may be called more than once.
func (p *Pair) Close() {
	p.closeOnce.Do(func() {
		p.own.Close()
		if p.pairedCache != nil {
			p.pairedCache.Close()
		}
	})
}

// Own catches up with what the flow persisted and returns it. The
// snapshot is shared (see Cache.Read) and must not be changed.
func (p *Pair) Own(ctx context.Context) (Snapshot, error) {
	s, _, err := p.own.Read(ctx)
	return s, err
}

// Paired catches up with what the paired flow persisted and returns it,
// keyed by the paired flow's source partitions (the flow's target
// partitions, under the same names); nil without a paired flow. The
// snapshot is shared and must not be changed.
func (p *Pair) Paired(ctx context.Context) (Snapshot, error) {
	if p.pairedCache == nil {
		return nil, nil
	}
	s, _, err := p.pairedCache.Read(ctx)
	return s, err
}

// View catches up with what the flow persisted and returns the View of
// it as of now: the snapshot itself without a paired flow, and with one
// the Paired composition, which reads the paired flow's progress at the
// first translation that needs it, once for the View. A caller that
// reports at intervals takes a View for each report.
func (p *Pair) View(ctx context.Context) (View, error) {
	own, err := p.Own(ctx)
	if err != nil {
		return nil, err
	}
	if p.pairedCache == nil {
		return own, nil
	}
	pm := &pairedOnce{pair: p}
	return Paired(func(context.Context) (Snapshot, error) { return own, nil }, pm.covering), nil
}

// pairedOnce hands out the paired flow's maps for one View: read at the
// first call that succeeds, the same ever after, so that every
// translation of one report sees the same maps.
type pairedOnce struct {
	pair *Pair

	mu   sync.Mutex
	snap Snapshot
}

// covering is a PeerMap: it does not read again when the map read does
// not cover least (the caller checks).
func (pm *pairedOnce) covering(ctx context.Context, p Partition, _ int64) (*offsetmap.Partition, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.snap == nil {
		s, err := pm.pair.Paired(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the stored progress of %s: %w", pm.pair.paired.Name(), err)
		}
		pm.snap = s
	}
	return pm.snap[p].Map, nil
}
