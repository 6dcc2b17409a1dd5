package discover

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/policy"
)

// ActionCopy is the action of a selected topic the target already holds
// as it is.
const ActionCopy = "copy"

// PlannedTopic is what the flow would do with a selected topic.
type PlannedTopic struct {
	Topic
	// Action is "copy", "create", "grow" or "blocked".
	Action string
	Reason string
	// ConfigDiffs are the source topic configs the target lacks or has
	// otherwise, as "key: source value → target value".
	ConfigDiffs []string
}

// PlannedGroup is a source consumer group and whether the flow selects it.
type PlannedGroup struct {
	Group    string
	Selected bool
	Reason   string
}

// Plan is what a flow would copy, without copying anything.
type Plan struct {
	Topics   []PlannedTopic
	Skipped  []Skipped
	Groups   []PlannedGroup
	Warnings []string
}

// MakePlan connects to both clusters of a flow and works out what it would
// copy and create, and which groups it would follow.
func MakePlan(ctx context.Context, srcCl *kgo.Client, tgt *kadm.Client, f *config.Flow) (Plan, error) {
	src := kadm.NewClient(srcCl)
	sel, err := Topics(ctx, srcCl, f)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Skipped: sel.Skipped}
	names := make([]string, 0, len(sel.Topics))
	for _, t := range sel.Topics {
		names = append(names, t.Target)
	}
	existing, err := tgt.ListTopics(ctx, names...)
	if err != nil {
		return Plan{}, fmt.Errorf("list topics of %q: %w", f.Target, err)
	}
	var wanted []Topic
	for _, t := range sel.Topics {
		pt := PlannedTopic{Topic: t, Action: ActionCopy}
		d, ok := existing[t.Target]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			pt.Action, pt.Reason = "create", fmt.Sprintf("%d partitions", t.Partitions)
			if !f.TopicCreation {
				pt.Action, pt.Reason = "blocked", fmt.Sprintf("missing on the target and %s is false", config.KeyTopicCreation)
			}
		case d.Err != nil:
			pt.Action, pt.Reason = "blocked", d.Err.Error()
		case int32(len(d.Partitions)) < t.Partitions:
			pt.Action, pt.Reason = "grow", fmt.Sprintf("%d → %d partitions", len(d.Partitions), t.Partitions)
			if !f.TopicCreation {
				pt.Action, pt.Reason = "blocked", fmt.Sprintf("%d partitions on the target, %d on the source, and %s is false", len(d.Partitions), t.Partitions, config.KeyTopicCreation)
			}
		default:
			wanted = append(wanted, t)
		}
		p.Topics = append(p.Topics, pt)
	}
	if len(wanted) > 0 {
		diffs, err := configDiffs(ctx, src, tgt, f, wanted)
		if err != nil {
			return Plan{}, err
		}
		for i := range p.Topics {
			p.Topics[i].ConfigDiffs = diffs[p.Topics[i].Source]
		}
	}
	if f.Topics.Empty() || len(sel.Topics) == 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the topics pattern %q selects no topic of %s", f.Topics, f.Source))
	} else {
		var all []string
		for _, t := range sel.Topics {
			all = append(all, t.Source)
		}
		for _, s := range sel.Skipped {
			all = append(all, s.Topic)
		}
		for _, item := range f.Topics.Unmatched(all) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("the topics item %q matches no topic of %s", item, f.Source))
		}
	}
	groups, err := src.ListGroups(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("list groups of %q: %w", f.Source, err)
	}
	filter := policy.Filter{Include: f.Groups, Exclude: f.GroupsExclude}
	selected := 0
	for _, g := range groups.Sorted() {
		v, err := filter.Select(g.Group)
		if err != nil {
			v.Reason = err.Error()
		}
		if v.Selected {
			selected++
		}
		p.Groups = append(p.Groups, PlannedGroup{Group: g.Group, Selected: v.Selected, Reason: v.Reason})
	}
	if len(groups) > 0 && selected == 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the groups pattern %q selects none of the %d groups of %s", f.Groups, len(groups), f.Source))
	}
	return p, nil
}

// configDiffs compares the configs set on source topics with the target's.
func configDiffs(ctx context.Context, src, tgt *kadm.Client, f *config.Flow, topics []Topic) (map[string][]string, error) {
	want, err := SourceConfigs(ctx, src, f, topics)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Target
	}
	rcs, err := tgt.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("describe configs of target topics: %w", err)
	}
	have := map[string]map[string]kadm.Config{}
	for _, rc := range rcs {
		m := map[string]kadm.Config{}
		for _, c := range rc.Configs {
			m[c.Key] = c
		}
		have[rc.Name] = m
	}
	out := map[string][]string{}
	for _, t := range topics {
		var diffs []string
		for key, v := range want[t.Source] {
			tv, ok := have[t.Target][key]
			switch {
			case !ok || tv.Value == nil:
				diffs = append(diffs, fmt.Sprintf("%s: %s → (unset)", key, deref(v)))
			case deref(tv.Value) != deref(v):
				origin := ""
				if tv.Source != kmsg.ConfigSourceDynamicTopicConfig {
					origin = " (default)"
				}
				diffs = append(diffs, fmt.Sprintf("%s: %s → %s%s", key, deref(v), deref(tv.Value), origin))
			}
		}
		slices.Sort(diffs)
		out[t.Source] = diffs
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}
