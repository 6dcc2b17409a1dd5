package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/policy"
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
// no longer selects: fetching stops, the records in flight are
// acknowledged, and the progress is persisted before they are forgotten.
func (fl *Flow) releaseUnselected(ctx context.Context) error {
	fl.mu.Lock()
	filter := fl.filter
	var gone []*partition
	var keys []partitionKey
	unselected := map[string]bool{} // by topic: one match per topic, not per partition
	for k, p := range fl.parts {
		out, known := unselected[k.topic]
		if !known {
			v, err := filter.Select(k.topic)
			out = err == nil && !v.Selected
			unselected[k.topic] = out
		}
		if out {
			gone = append(gone, p)
			keys = append(keys, k)
		}
	}
	tasks := append([]*task(nil), fl.tasks...)
	fl.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	for _, t := range tasks {
		t.remove(keys)
	}
	deadline := time.Now().Add(StopTimeout)
	for _, p := range gone {
		for p.inFlight() > 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("stop copying %s[%d]: records still unacknowledged after %s", p.key.topic, p.key.partition, StopTimeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	if err := fl.flush(ctx); err != nil {
		return err
	}
	fl.mu.Lock()
	topics := map[string]int{}
	for _, k := range keys {
		delete(fl.parts, k)
		topics[k.topic]++
	}
	fl.mu.Unlock()
	for topic, n := range topics {
		fl.log.Info("stopped copying: no longer selected; its progress is kept", "topic", topic, "partitions", n)
	}
	return nil
}
