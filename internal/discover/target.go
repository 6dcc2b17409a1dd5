package discover

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// Blocked is a selected topic that cannot be copied now, and why. Status
// reports it as it is, so its JSON names are part of status's contract.
type Blocked struct {
	Topic  string `json:"topic"`
	Reason string `json:"reason"`
}

// SyncTargetTopics makes the target topics ready: it creates missing ones
// and grows smaller ones when topic.creation.enable allows, and otherwise
// reports them. It returns the topics ready to copy.
func SyncTargetTopics(ctx context.Context, src *kadm.Client, tgtCl *kgo.Client, f *config.Flow, topics []Topic) ([]Topic, []Blocked, error) {
	tgt := kadm.NewClient(tgtCl)
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Target
	}
	listed, err := cluster.ListTopics(ctx, tgtCl, names...)
	if err != nil {
		return nil, nil, fmt.Errorf("list topics of %q: %w", f.Target, err)
	}
	existing := make(map[string]cluster.TopicMeta, len(listed))
	for _, d := range listed {
		existing[d.Name] = d
	}
	var missing []Topic
	var ready []Topic
	var blocked []Blocked
	for _, t := range topics {
		d, ok := existing[t.Target]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, t)
			continue
		}
		if d.Err != nil {
			blocked = append(blocked, Blocked{t.Source, fmt.Sprintf("target topic %q: %v", t.Target, d.Err)})
			continue
		}
		have := d.Partitions
		if have >= t.Partitions {
			ready = append(ready, t)
			continue
		}
		if !f.TopicCreation {
			blocked = append(blocked, Blocked{t.Source, fmt.Sprintf("target topic %q has %d partitions, the source %d; %s is false, so kmirror does not add them",
				t.Target, have, t.Partitions, config.KeyTopicCreation)})
			continue
		}
		resp, err := tgt.CreatePartitions(ctx, int(t.Partitions-have), t.Target)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			blocked = append(blocked, Blocked{t.Source, fmt.Sprintf("grow target topic %q to %d partitions: %v", t.Target, t.Partitions, err)})
			continue
		}
		ready = append(ready, t)
	}
	if len(missing) == 0 {
		return ready, blocked, nil
	}
	if !f.TopicCreation {
		for _, t := range missing {
			blocked = append(blocked, Blocked{t.Source, fmt.Sprintf("target topic %q does not exist; %s is false, so kmirror does not create it (create it with %d partitions)",
				t.Target, config.KeyTopicCreation, t.Partitions)})
		}
		return ready, blocked, nil
	}
	created, err := CreateTargetTopics(ctx, src, tgt, f, missing, false)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range missing {
		if err := created[t.Target].Err; err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			blocked = append(blocked, Blocked{t.Source, fmt.Sprintf("create target topic %q: %v", t.Target, err)})
			continue
		}
		ready = append(ready, t)
	}
	return ready, blocked, nil
}

// CreateTargetTopics creates the target topics of topics as the flow
// creates them: with the source topic's partitions, replication.factor,
// and with sync.topic.configs.enabled the configs set on the source topic
// (less config.properties.exclude). With validateOnly, the target only
// says whether it would, and with which settings. The answers are by
// target name; each carries its topic's error.
func CreateTargetTopics(ctx context.Context, src, tgt *kadm.Client, f *config.Flow, topics []Topic, validateOnly bool) (kadm.CreateTopicResponses, error) {
	configs := map[string]map[string]*string{}
	if f.SyncTopicConfigs {
		var err error
		if configs, err = SourceConfigs(ctx, src, f, topics); err != nil {
			return nil, err
		}
	}
	create := tgt.CreateTopics
	if validateOnly {
		create = tgt.ValidateCreateTopics
	}
	out := kadm.CreateTopicResponses{}
	for _, t := range topics {
		resps, err := create(ctx, t.Partitions, f.ReplicationFactor, configs[t.Source], t.Target)
		r, ok := resps[t.Target]
		switch {
		case err != nil:
			r = kadm.CreateTopicResponse{Topic: t.Target, Err: err}
		case !ok:
			r = kadm.CreateTopicResponse{Topic: t.Target, Err: errors.New("no answer from the broker")}
		}
		out[t.Target] = r
	}
	return out, nil
}

// SourceConfigs returns the configs set on the source topics, less those
// config.properties.exclude names.
func SourceConfigs(ctx context.Context, src *kadm.Client, f *config.Flow, topics []Topic) (map[string]map[string]*string, error) {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Source
	}
	rcs, err := src.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("describe configs of source topics: %w", err)
	}
	out := map[string]map[string]*string{}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs of source topic %q: %w", rc.Name, rc.Err)
		}
		m := map[string]*string{}
		for _, c := range rc.Configs {
			if c.Source != kmsg.ConfigSourceDynamicTopicConfig {
				continue
			}
			if excluded, _ := f.ConfigPropertiesExclude.Match(c.Key); excluded {
				continue
			}
			m[c.Key] = c.Value
		}
		out[rc.Name] = m
	}
	return out, nil
}
