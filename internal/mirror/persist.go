package mirror

import (
	"context"
	"errors"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/progress"
)

// flush persists what changed: the offset syncs, then the progress they
// cover.
func (r *run) flush(ctx context.Context) error {
	parts := r.copier.partitions(nil)
	if r.pair != nil {
		r.decide(ctx, parts)
	}
	var taken []*partition
	var items []progress.Pending
	for _, p := range parts {
		it := p.pending(r.clusterID)
		if !it.Empty() {
			taken, items = append(taken, p), append(items, it)
		}
	}
	if len(items) == 0 {
		return nil
	}
	// A worker that can no longer prove it owns its partitions must not
	// write their progress over their next owner's.
	if !r.member.Valid() {
		for i, p := range taken {
			p.unpersisted(items[i])
		}
		return errors.New("not persisting progress: this worker's membership is not confirmed")
	}
	syncsWritten, err := r.store.Flush(ctx, r.Worker(), items)
	if err != nil {
		for i, p := range taken {
			if syncsWritten { // only the progress is to be written again
				items[i].Segments, items[i].Deletes = nil, nil
			}
			p.unpersisted(items[i])
		}
	}
	return err
}

// truncate drops the offset-map segments that lie wholly below the source
// log start: no committed offset there can be translated any more.
func (r *run) truncate(ctx context.Context) error {
	byTopic := map[string][]*partition{}
	for _, p := range r.copier.partitions(nil) {
		byTopic[p.key.Topic] = append(byTopic[p.key.Topic], p)
	}
	if len(byTopic) == 0 {
		return nil
	}
	counts := make(map[string]int32, len(byTopic))
	for t, ps := range byTopic {
		for _, p := range ps {
			counts[t] = max(counts[t], p.key.Partition+1)
		}
	}
	leaders := make(map[string][]int32, len(counts))
	for t, n := range counts {
		leaders[t] = cluster.UnknownLeaders(n)
	}
	starts, err := cluster.ListOffsets(ctx, r.srcCl, leaders, cluster.AtStart)
	if err != nil {
		return err
	}
	for t, ps := range byTopic {
		for _, p := range ps {
			if o, ok := starts.Lookup(t, p.key.Partition); ok && o.Err == nil {
				p.truncate(o.Offset)
			}
		}
	}
	return nil
}
