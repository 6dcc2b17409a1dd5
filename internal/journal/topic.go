package journal

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// Record writes events of flow f to its journal topic on the target
// (f.JournalTopic, created compacted when missing) through tgt, a client
// of the target, and waits until they are acknowledged.
func Record(ctx context.Context, f *config.Flow, tgt *kgo.Client, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	topic := f.JournalTopic()
	if err := cluster.EnsureCompactedTopic(ctx, kadm.NewClient(tgt), topic, f.OffsetSyncsReplicationFactor, config.KeyOffsetSyncsReplication); err != nil {
		return err
	}
	recs := make([]*kgo.Record, 0, len(events))
	for _, e := range events {
		e.Flow = f.Name()
		k, v, err := Encode(e)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: k, Value: v, Timestamp: e.Time})
	}
	if err := tgt.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write the journal %q: %w", topic, err)
	}
	return nil
}

// Read reads the story of flow f from its journal topic on the target,
// with a client made of opts (the target's). Records of other flows from
// the same source are left out; records that are no journal events
// (another tool's, a newer version's) are left out and returned as
// problems, each naming its offset. A journal not written yet is an empty
// story.
func Read(ctx context.Context, f *config.Flow, opts []kgo.Opt) (*Story, []error, error) {
	story := NewStory()
	var problems []error
	err := cluster.ScanTopic(ctx, opts, f.JournalTopic(), func(r *kgo.Record) {
		if r.Value == nil {
			return // a step forgotten
		}
		e, err := Decode(r.Key, r.Value)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s[%d] offset %d: %w", r.Topic, r.Partition, r.Offset, err))
			return
		}
		if e.Flow == f.Name() {
			story.Add(e)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return story, problems, nil
}
