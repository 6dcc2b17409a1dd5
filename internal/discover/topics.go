package discover

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/policy"
)

// Topic is a selected source topic and its name on the target.
type Topic struct {
	Source     string
	Target     string
	ID         [16]byte
	Partitions int32
	// Leaders are the source partitions' leaders when discovered, by
	// partition number (-1 unknown); nil when the topic was not listed
	// from the source's metadata.
	Leaders []int32
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

// Topics lists the source topics and selects those the flow copies, as
// SelectTopic says; a topic the source cannot describe is skipped.
func Topics(ctx context.Context, source *kgo.Client, f *config.Flow) (Selection, error) {
	topics, err := cluster.ListTopics(ctx, source)
	if err != nil {
		return Selection{}, fmt.Errorf("list topics of %q: %w", f.Source, err)
	}
	return selectTopics(topics, f), nil
}

// selectTopics selects among topics, in name order.
func selectTopics(topics []cluster.TopicMeta, f *config.Flow) Selection {
	var sel Selection
	for _, d := range topics {
		name := d.Name
		if d.Err != nil {
			sel.Skipped = append(sel.Skipped, Skipped{name, fmt.Sprintf("cannot describe: %v", d.Err)})
			continue
		}
		v, err := SelectTopic(f, name)
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
			ID: d.ID, Partitions: d.Partitions, Leaders: d.Leaders,
		})
	}
	return sel
}

// SelectTopic says whether flow f copies the source topic name, and if
// not, why: never an internal topic, never a replica of the target (it
// would copy back where it came from), else as the topics and
// topics.exclude patterns say. An error is a pattern that could not be
// matched in time.
func SelectTopic(f *config.Flow, name string) (policy.Verdict, error) {
	switch {
	case policy.IsInternal(name):
		return policy.Verdict{Reason: "internal topic"}, nil
	case f.Replication.TopicSource(name) == f.Target:
		return policy.Verdict{Reason: fmt.Sprintf("a replica of %s, the target (it would copy back)", f.Target)}, nil
	}
	return policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}.Select(name)
}
