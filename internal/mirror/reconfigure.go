package mirror

import (
	"context"
	"time"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/progress"
)

// Reconfigure applies a new topic selection (topics, topics.exclude) of
// the flow at once: topics no longer selected stop being copied, their
// progress stays stored so that adding them back resumes where they
// stopped; newly selected ones start. Other settings need a restart.
func (fl *Flow) Reconfigure(f *config.Flow) { fl.cat.reconfigure(f) }

// discoveryLoop refreshes the topics every refresh.topics.interval.seconds
// (when refresh.topics.enabled) and at once when Reconfigure asks.
func (r *run) discoveryLoop(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.RefreshTopicsInterval)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			err = r.rediscover(ctx)
		case <-r.cat.kick:
			r.log.Info("applying the new topic selection")
			err = r.refresh(ctx)
		}
		if err != nil && ctx.Err() == nil {
			r.log.Warn("topic discovery failed; retrying", "err", err)
		}
	}
}

// releaseUnselected stops copying the partitions of topics the selection
// no longer selects; their progress is persisted and kept.
func (r *run) releaseUnselected(ctx context.Context) error {
	var keys []progress.Partition
	unselected := map[string]bool{} // by topic: one match per topic, not per partition
	for _, p := range r.copier.partitions(nil) {
		out, known := unselected[p.key.Topic]
		if !known {
			out = !r.cat.selected(p.key.Topic)
			unselected[p.key.Topic] = out
		}
		if out {
			keys = append(keys, p.key)
		}
	}
	return r.release(ctx, keys, "no longer selected; its progress is kept")
}
