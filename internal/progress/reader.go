package progress

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// Reader is the one reader, outside the running workers, of what a flow
// persisted and of what its pair persisted: the flow that copies the
// other way under the same topic names (config.Config.SameNamePair), whose
// map a translation of the flow's offsets needs too. It follows the topics
// of each through a Cache: a Reader kept for long (a status that
// refreshes) reads them whole once and then only what was written since;
// a command that reads once (verify, rollback) closes it after. Close it
// when done.
type Reader struct {
	pair *config.Flow
	// own follows the flow's topics; pairCache, nil without a pair, the
	// pair's (on the flow's source: its target).
	own, pairCache *Cache

	closeOnce sync.Once
}

// NewReader prepares the reader of flow f, between src and tgt, and of its
// pair, nil when it has none; nothing is read before the first Own, Pair
// or View.
func NewReader(f, pair *config.Flow, src, tgt *config.Cluster, log *slog.Logger) (*Reader, error) {
	own, err := NewCache(f, src, tgt, log)
	if err != nil {
		return nil, err
	}
	p := &Reader{pair: pair, own: own}
	if pair != nil {
		// The pair copies tgt to src.
		if p.pairCache, err = NewCache(pair, tgt, src, log); err != nil {
			own.Close()
			return nil, err
		}
	}
	return p, nil
}

// Close closes the reader's clients. It may be called more than once.
func (p *Reader) Close() {
	p.closeOnce.Do(func() {
		p.own.Close()
		if p.pairCache != nil {
			p.pairCache.Close()
		}
	})
}

// Own catches up with what the flow persisted and returns it. The
// snapshot is shared (see Cache.Read) and must not be changed.
func (p *Reader) Own(ctx context.Context) (Snapshot, error) {
	s, _, err := p.own.Read(ctx)
	return s, err
}

// Pair catches up with what the pair persisted and returns it,
// keyed by the pair's source partitions (the flow's target
// partitions, under the same names); nil without a pair. The
// snapshot is shared and must not be changed.
func (p *Reader) Pair(ctx context.Context) (Snapshot, error) {
	if p.pairCache == nil {
		return nil, nil
	}
	s, _, err := p.pairCache.Read(ctx)
	return s, err
}

// View catches up with what the flow persisted and returns the View of
// it as of now: the snapshot itself without a pair, and with one
// the WithPair composition, which reads the pair's progress at the
// first translation that needs it, once for the View. A caller that
// reports at intervals takes a View for each report.
func (p *Reader) View(ctx context.Context) (View, error) {
	own, err := p.Own(ctx)
	if err != nil {
		return nil, err
	}
	if p.pairCache == nil {
		return own, nil
	}
	pm := &pairOnce{reader: p}
	return WithPair(func(context.Context) (Snapshot, error) { return own, nil }, pm.covering), nil
}

// pairOnce hands out the pair's maps for one View: read at the
// first call that succeeds, the same ever after, so that every
// translation of one report sees the same maps.
type pairOnce struct {
	reader *Reader

	mu   sync.Mutex
	snap Snapshot
}

// covering is a PairMap: it does not read again when the map read does
// not cover least (the caller checks).
func (pm *pairOnce) covering(ctx context.Context, p Partition, _ int64) (*offsetmap.Map, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.snap == nil {
		s, err := pm.reader.Pair(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the stored progress of %s: %w", pm.reader.pair.Name(), err)
		}
		pm.snap = s
	}
	return pm.snap[p].Map, nil
}
