package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
)

// refresh discovers topics and partitions and starts copying new ones.
func (fl *Flow) refresh(ctx context.Context) error {
	sel, err := discover.Topics(ctx, fl.srcAdm, fl.selection())
	if err != nil {
		return err
	}
	if err := fl.releaseUnselected(ctx); err != nil {
		return err
	}
	ready, blocked, err := discover.SyncTargetTopics(ctx, fl.srcAdm, fl.tgtAdm, fl.cfg, sel.Topics)
	if err != nil {
		return err
	}
	fl.mu.Lock()
	for topic := range fl.recreated {
		blocked = append(blocked, discover.Blocked{Topic: topic, Reason: recreatedReason})
	}
	old := fl.blocked
	fl.blocked = blocked
	fl.mu.Unlock()
	for _, b := range blocked {
		if !slices.Contains(old, b) {
			fl.log.Error("topic not copied", "topic", b.Topic, "reason", b.Reason)
		}
	}
	// What is ready is shared out by the workers' group: a change asks
	// for a rebalance, which moves nothing else.
	avail := make(map[string]discover.Topic, len(ready))
	fl.mu.Lock()
	changed := len(ready) != len(fl.avail)
	for _, t := range ready {
		if old, ok := fl.avail[t.Source]; !ok || old.Partitions != t.Partitions {
			changed = true
		}
		avail[t.Source] = t
	}
	fl.avail = avail
	fl.mu.Unlock()
	switch {
	case changed && fl.cfg.ExactlyOnce:
		// The slots stay; the new partitions join theirs.
		return fl.growSlots(ctx)
	case changed:
		fl.member.Rejoin()
	}
	return nil
}

// awaitProducerMetadata waits until the producer knows the target
// partitions it is about to write: franz-go refuses a record for a
// partition its metadata does not have yet, as after the target topic grew.
func (fl *Flow) awaitProducerMetadata(ctx context.Context, parts []*partition) error {
	deadline := time.Now().Add(30 * time.Second)
	for refreshed := false; ; refreshed = true {
		var missing *partition
		for _, p := range parts {
			// A topic the producer never wrote is loaded whole on its
			// first record; only known topics can be stale.
			if leader, _, _ := p.producer.PartitionLeader(p.target, 0); leader < 0 {
				continue
			}
			if leader, _, _ := p.producer.PartitionLeader(p.target, p.key.Partition); leader < 0 {
				missing = p
				break
			}
		}
		if missing == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the producer does not see partition %d of target topic %q yet", missing.key.Partition, missing.target)
		}
		if !refreshed {
			missing.producer.ForceMetadataRefresh()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
			missing.producer.ForceMetadataRefresh()
		}
	}
}

// rediscover refreshes the topics, unless refresh.topics.enabled=false
// froze the set, and forgets what the source deleted.
func (fl *Flow) rediscover(ctx context.Context) error {
	var err error
	if fl.cfg.RefreshTopics {
		err = fl.refresh(ctx)
	}
	return errors.Join(err, fl.truncate(ctx))
}
