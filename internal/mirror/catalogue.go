package mirror

import (
	"slices"
	"strings"
	"sync"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/policy"
)

// catalogue is the flow's list of topics: the selection (Reconfigure
// changes it), what is ready to copy — selected, present on the target,
// not blocked — and what is blocked, the topics created again since they
// were copied included. The discovery loop fills it; the workers' group
// shares out what it holds.
type catalogue struct {
	cfg *config.Flow
	// kick asks the discovery loop to apply a new selection at once.
	kick chan struct{}

	mu     sync.Mutex
	filter policy.Filter
	// avail are the topics ready to copy, by source name.
	avail   map[string]discover.Topic
	blocked []discover.Blocked
	// recreated holds source topics whose id differs from the one their
	// progress names, reported once and not copied.
	recreated map[string]bool
}

func newCatalogue(f *config.Flow) *catalogue {
	return &catalogue{cfg: f, kick: make(chan struct{}, 1), filter: policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude},
		avail: map[string]discover.Topic{}, recreated: map[string]bool{}}
}

// reconfigure sets a new selection and asks the discovery loop to apply
// it.
func (c *catalogue) reconfigure(f *config.Flow) {
	c.mu.Lock()
	c.filter = policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // a refresh is asked for already
	}
}

// selection is the flow's configuration with the current selection.
func (c *catalogue) selection() *config.Flow {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := *c.cfg
	f.Topics, f.TopicsExclude = c.filter.Include, c.filter.Exclude
	return &f
}

// selected tells whether the current selection selects topic.
func (c *catalogue) selected(topic string) bool {
	c.mu.Lock()
	filter := c.filter
	c.mu.Unlock()
	v, err := filter.Select(topic)
	return err != nil || v.Selected
}

// update sets what is ready and what is blocked (the recreated topics are
// added to it), and says whether what is ready changed and which topics
// are newly blocked.
func (c *catalogue) update(ready []discover.Topic, blocked []discover.Blocked) (changed bool, newly []discover.Blocked) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic := range c.recreated {
		blocked = append(blocked, discover.Blocked{Topic: topic, Reason: recreatedReason})
	}
	for _, b := range blocked {
		if !slices.Contains(c.blocked, b) {
			newly = append(newly, b)
		}
	}
	c.blocked = blocked
	avail := make(map[string]discover.Topic, len(ready))
	changed = len(ready) != len(c.avail)
	for _, t := range ready {
		if old, ok := c.avail[t.Source]; !ok || old.Partitions != t.Partitions {
			changed = true
		}
		avail[t.Source] = t
	}
	c.avail = avail
	return changed, newly
}

// available returns topic name when it is ready to copy (recreated or not:
// loading its partitions finds out).
func (c *catalogue) available(name string) (discover.Topic, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.avail[name]
	return t, ok
}

// ready lists the topics ready to copy, by whichever worker, sorted.
func (c *catalogue) ready() []discover.Topic {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []discover.Topic
	for name, t := range c.avail {
		if !c.recreated[name] {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b discover.Topic) int { return strings.Compare(a.Source, b.Source) })
	return out
}

// shares are the topics the workers' group shares out, with their
// partition counts.
func (c *catalogue) shares() map[string]int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int32, len(c.avail))
	for name, t := range c.avail {
		if !c.recreated[name] {
			out[name] = t.Partitions
		}
	}
	return out
}

// recreate marks topic as created again since its progress was written,
// and says whether it was not marked yet.
func (c *catalogue) recreate(topic string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recreated[topic] {
		return false
	}
	c.recreated[topic] = true
	return true
}

// Blocked returns the selected topics that cannot be copied, and why.
func (c *catalogue) Blocked() []discover.Blocked {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.blocked)
}

const recreatedReason = "the source topic was deleted and created again since it was mirrored; not copying it on top of the old copy: delete its records from the progress topic to start over"
