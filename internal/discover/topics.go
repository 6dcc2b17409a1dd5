package discover

import (
	"context"
	"fmt"
	"slices"
	"strings"

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

// Topics lists the source topics and selects those the flow copies:
// internal topics never, replicas of the target never (they would copy back
// where they came from), the rest by the topics / topics.exclude filter.
func Topics(ctx context.Context, source *kadm.Client, f *config.Flow) (Selection, error) {
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
	slices.SortFunc(sel.Topics, func(a, b Topic) int { return strings.Compare(a.Source, b.Source) })
	return sel
}
