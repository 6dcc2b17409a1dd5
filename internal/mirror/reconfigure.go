package mirror

import (
	"context"
	"time"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/policy"
	"github.com/kmirror/kmirror/internal/progress"
)

// Reconfigure applies a new topic selection (topics, topics.exclude) of
// the flow at once: topics no longer selected stop being copied, their
// progress stays stored so that adding them back resumes where they
// stopped; newly selected ones start. Other settings need a restart.
func (fl *Flow) Reconfigure(f *config.Flow) {
	fl.mu.Lock()
	fl.filter = policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}
	fl.mu.Unlock()
	select {
	case fl.kick <- struct{}{}:
	default: // a refresh is asked for already
	}
}

// selection is the flow's configuration with the current topic selection.
func (fl *Flow) selection() *config.Flow {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	c := *fl.cfg
	c.Topics, c.TopicsExclude = fl.filter.Include, fl.filter.Exclude
	return &c
}

// discoveryLoop refreshes the topics every refresh.topics.interval.seconds
// (when refresh.topics.enabled) and at once when Reconfigure asks.
func (fl *Flow) discoveryLoop(ctx context.Context) error {
	tick := time.NewTicker(fl.cfg.RefreshTopicsInterval)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			err = fl.rediscover(ctx)
		case <-fl.kick:
			fl.log.Info("applying the new topic selection")
			err = fl.refresh(ctx)
		}
		if err != nil && ctx.Err() == nil {
			fl.log.Warn("topic discovery failed; retrying", "err", err)
		}
	}
}

// releaseUnselected stops copying the partitions of topics the selection
// no longer selects; their progress is persisted and kept.
func (fl *Flow) releaseUnselected(ctx context.Context) error {
	fl.mu.Lock()
	filter := fl.filter
	var keys []progress.Partition
	unselected := map[string]bool{} // by topic: one match per topic, not per partition
	for k := range fl.parts {
		out, known := unselected[k.Topic]
		if !known {
			v, err := filter.Select(k.Topic)
			out = err == nil && !v.Selected
			unselected[k.Topic] = out
		}
		if out {
			keys = append(keys, k)
		}
	}
	fl.mu.Unlock()
	return fl.release(ctx, keys, "no longer selected; its progress is kept")
}
