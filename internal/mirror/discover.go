package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/policy"
)

// Topic is a selected source topic and its name on the target.
type Topic struct {
	Source     string
	Target     string
	ID         [16]byte
	Partitions int32
}

// Skipped is a source topic discovery did not select, and why.
type Skipped struct {
	Topic  string
	Reason string
}

// Selection is the outcome of one discovery.
type Selection struct {
	Topics  []Topic
	Skipped []Skipped
}

// Discover lists the source topics and selects those the flow copies:
// internal topics never, replicas of the target never (they would copy back
// where they came from), the rest by the topics / topics.exclude filter.
func Discover(ctx context.Context, source *kadm.Client, f *config.Flow) (Selection, error) {
	details, err := source.ListTopics(ctx)
	if err != nil {
		return Selection{}, fmt.Errorf("list topics of %q: %w", f.Source, err)
	}
	return selectTopics(details, f), nil
}

func selectTopics(details kadm.TopicDetails, f *config.Flow) Selection {
	var sel Selection
	filter := policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}
	for _, name := range details.Names() {
		d := details[name]
		switch {
		case d.Err != nil:
			sel.Skipped = append(sel.Skipped, Skipped{name, fmt.Sprintf("cannot describe: %v", d.Err)})
			continue
		case policy.IsInternal(name):
			sel.Skipped = append(sel.Skipped, Skipped{name, "internal topic"})
			continue
		case f.Replication.TopicSource(name) == f.Target:
			sel.Skipped = append(sel.Skipped, Skipped{name, fmt.Sprintf("a replica of %s, the target (it would copy back)", f.Target)})
			continue
		}
		v, err := filter.Select(name)
		if err != nil {
			sel.Skipped = append(sel.Skipped, Skipped{name, err.Error()})
			continue
		}
		if !v.Selected {
			sel.Skipped = append(sel.Skipped, Skipped{name, v.Reason})
			continue
		}
		sel.Topics = append(sel.Topics, Topic{
			Source: name, Target: f.Replication.RemoteTopic(f.Source, name),
			ID: d.ID, Partitions: int32(len(d.Partitions)),
		})
	}
	slices.SortFunc(sel.Topics, func(a, b Topic) int { return cmpString(a.Source, b.Source) })
	return sel
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// refresh discovers topics and partitions and starts copying new ones.
func (fl *Flow) refresh(ctx context.Context) error {
	sel, err := Discover(ctx, fl.srcAdm, fl.selection())
	if err != nil {
		return err
	}
	if err := fl.releaseUnselected(ctx); err != nil {
		return err
	}
	ready, blocked, err := syncTargetTopics(ctx, fl.srcAdm, fl.tgtAdm, fl.cfg, sel.Topics)
	if err != nil {
		return err
	}
	fl.mu.Lock()
	for topic := range fl.recreated {
		blocked = append(blocked, Blocked{topic, recreatedReason})
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
	avail := make(map[string]Topic, len(ready))
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
