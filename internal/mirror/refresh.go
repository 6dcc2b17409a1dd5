package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
)

// refresh discovers topics and partitions and starts copying new ones.
func (r *run) refresh(ctx context.Context) error {
	sel, err := discover.Topics(ctx, r.srcCl, r.cat.selection())
	if err != nil {
		return err
	}
	if err := r.releaseUnselected(ctx); err != nil {
		return err
	}
	ready, blocked, err := discover.SyncTargetTopics(ctx, r.srcAdm, r.tgtCl, r.cfg, sel.Topics)
	if err != nil {
		return err
	}
	changed, newly := r.cat.update(ready, blocked)
	for _, b := range newly {
		r.log.Error("topic not copied", "topic", b.Topic, "reason", b.Reason)
	}
	// What is ready is shared out by the workers' group: a change asks
	// for a rebalance, which moves nothing else.
	switch {
	case changed && r.cfg.ExactlyOnce:
		// The slots stay; the new partitions join theirs.
		return r.growSlots(ctx)
	case changed:
		r.member.Rejoin()
	}
	return nil
}

// awaitProducerMetadata waits until the slots' producers know the target
// partitions they are about to write: franz-go refuses a record for a
// partition its metadata does not have yet, as after the target topic grew.
func (r *run) awaitProducerMetadata(ctx context.Context, parts []*partition) error {
	deadline := time.Now().Add(30 * time.Second)
	for refreshed := false; ; refreshed = true {
		var missing *partition
		for _, p := range parts {
			if p.producer == nil {
				continue // the batch producer waits for metadata itself
			}
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
func (r *run) rediscover(ctx context.Context) error {
	var err error
	if r.cfg.RefreshTopics {
		err = r.refresh(ctx)
	}
	return errors.Join(err, r.truncate(ctx))
}
