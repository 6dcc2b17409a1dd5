package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/policy"
)

// topicState is what a cluster said about one topic.
type topicState struct {
	// Partitions and Replicas (of its first partition) when it exists;
	// InSync is the fewest in-sync replicas of a partition, Behind that
	// partition.
	Partitions int32
	Replicas   int
	InSync     int
	Behind     int32
	// Err is UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist,
	// TOPIC_AUTHORIZATION_FAILED for one the user may not describe
	// (whether or not it exists).
	Err error
}

// describeTopics asks a cluster about the named topics, each answered on
// its own: a topic the user may not describe does not hide the others.
func describeTopics(ctx context.Context, cl *kgo.Client, names []string) (map[string]topicState, error) {
	out := map[string]topicState{}
	if len(names) == 0 {
		return out, nil
	}
	resp, err := metadataOf(names).RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		st := topicState{Partitions: int32(len(t.Partitions)), Err: kerr.ErrorForCode(t.ErrorCode)}
		if len(t.Partitions) > 0 {
			st.Replicas, st.InSync = len(t.Partitions[0].Replicas), len(t.Partitions[0].ISR)
		}
		for _, p := range t.Partitions {
			if len(p.ISR) < st.InSync {
				st.InSync, st.Behind = len(p.ISR), p.Partition
			}
		}
		out[*t.Topic] = st
	}
	return out, nil
}

// listable says whether the broker's answer about a name shows Describe
// granted on it, so that the user can list what the name stands for.
func listable(a answer, denied error) bool {
	if errors.Is(a.err, denied) {
		return false
	}
	return a.ops == notGiven || a.ops&(1<<int32(kmsg.ACLOperationDescribe)) != 0 || a.ops&(1<<int32(kmsg.ACLOperationAll)) != 0
}

// hidden says the user may not describe a topic, so cannot list it.
func hidden(err error) bool { return errors.Is(err, kerr.TopicAuthorizationFailed) }

// covers says whether resource r names name: the same name, a prefix of
// it, or every name.
func (r Resource) covers(name string) bool {
	if r.Pattern == Prefixed {
		return strings.HasPrefix(name, r.Name)
	}
	return r.Name == "*" || r.Name == name
}

// flowView is what preflight learnt of one flow on its clusters: the
// scope to check, the selected source topics it could list, what the
// target said of their copies, and notes on what it could not see.
type flowView struct {
	scope  Scope
	notes  []string
	topics []discover.Topic
	target map[string]topicState // by target name
}

func (v *flowView) note(format string, args ...any) {
	v.notes = append(v.notes, fmt.Sprintf(format, args...))
}

// currentScope is what flow f selects now: the source topics discovery
// selects, and those the topics pattern names literally but the user may
// not see (a missing Describe hides a topic from listings); their target
// topics, the missing ones to create; and the selected groups. What it
// cannot list it derives from the configuration: the names and prefixes of
// its patterns, each with a note, so that a user granted nothing still
// gets every row.
func currentScope(ctx context.Context, f *config.Flow, src, tgt *kgo.Client) (*flowView, error) {
	v := &flowView{target: map[string]topicState{}}
	sel, err := discover.Topics(ctx, src, f)
	if err != nil {
		return nil, err
	}
	v.topics = sel.Topics
	var names []string
	for _, t := range sel.Topics {
		names = append(names, t.Source)
	}
	filter := policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}
	var literals []string
	var patterns []Resource // items of the pattern no listed topic falls under
	for _, r := range Grants(TypeTopic, f.Topics) {
		if r.Pattern == Literal && r.Name != "*" {
			if slices.Contains(names, r.Name) || policy.IsInternal(r.Name) {
				continue
			}
			if sv, err := filter.Select(r.Name); err == nil && sv.Selected {
				literals = append(literals, r.Name)
			}
			continue
		}
		if !slices.ContainsFunc(names, r.covers) {
			patterns = append(patterns, r)
		}
	}
	states, err := describeTopics(ctx, src, literals)
	if err != nil {
		return nil, fmt.Errorf("describe topics of %q: %w", f.Source, err)
	}
	for _, name := range literals {
		st, ok := states[name]
		switch {
		case ok && errors.Is(st.Err, kerr.UnknownTopicOrPartition):
			v.note("topic %q of %s's topics pattern does not exist on %s; not checked", name, f.Name(), f.Source)
			continue
		case ok && st.Err == nil:
			v.topics = append(v.topics, discover.Topic{Source: name, Target: f.Replication.RemoteTopic(f.Source, name), Partitions: st.Partitions})
		case ok && hidden(st.Err):
			v.note("cannot list topic %q on %s: needs Describe on topic:%s; its rows follow the configuration", name, f.Source, name)
		default:
			v.note("cannot list topic %q on %s: %v; its rows follow the configuration", name, f.Source, st.Err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	remotes := make([]string, len(names))
	for i, name := range names {
		v.scope.SourceTopics = append(v.scope.SourceTopics, topic(name))
		remotes[i] = f.Replication.RemoteTopic(f.Source, name)
		v.scope.TargetTopics = append(v.scope.TargetTopics, topic(remotes[i]))
	}
	probes := map[string]answer{}
	if len(patterns) > 0 {
		var names []string
		for _, r := range patterns {
			names = append(names, askedName(r))
		}
		probes = topicAnswers(ctx, src, names)
	}
	for _, r := range patterns {
		if listable(probes[askedName(r)], kerr.TopicAuthorizationFailed) {
			continue // none now
		}
		v.note("cannot list the topics of %s matching %s: needs Describe on %s; their rows follow the pattern", f.Source, r, r)
		v.scope.SourceTopics = append(v.scope.SourceTopics, r)
		v.scope.TargetTopics = append(v.scope.TargetTopics, remote(f, r))
		if f.TopicCreation {
			v.scope.CreateTopics = append(v.scope.CreateTopics, remote(f, r))
		}
	}
	if len(v.scope.SourceTopics) == 0 {
		v.note("%s selects no topic of %s; topic permissions not checked", f.Name(), f.Source)
	}
	if v.target, err = describeTopics(ctx, tgt, remotes); err != nil {
		return nil, fmt.Errorf("describe topics of %q: %w", f.Target, err)
	}
	for _, name := range remotes {
		st, ok := v.target[name]
		switch {
		case ok && st.Err == nil:
			continue
		case ok && hidden(st.Err):
			v.note("cannot list topic %q on %s: needs Describe on topic:%s", name, f.Target, name)
			if !f.TopicCreation {
				continue
			}
		case !f.TopicCreation:
			continue // a requirement that fails: run does not create it
		}
		v.scope.CreateTopics = append(v.scope.CreateTopics, topic(name))
	}
	if f.EmitCheckpoints || f.SyncGroupOffsets {
		if err := v.selectGroups(ctx, f, src); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// selectGroups adds the source groups the flow follows now, and those its
// groups pattern names literally (a group the user may not describe is
// not listed); items of the pattern under which no group is listed are
// checked as the pattern names them.
func (v *flowView) selectGroups(ctx context.Context, f *config.Flow, src *kgo.Client) error {
	filter := policy.Filter{Include: f.Groups, Exclude: f.GroupsExclude}
	groups, err := discover.SelectGroups(ctx, kadm.NewClient(src), f.Source, filter)
	if err != nil {
		return err
	}
	var patterns, probed []Resource
	for _, r := range Grants(TypeGroup, f.Groups) {
		switch {
		case r.Pattern == Literal && r.Name != "*":
			if slices.Contains(groups, r.Name) {
				continue
			}
			if sv, err := filter.Select(r.Name); err == nil && sv.Selected {
				groups = append(groups, r.Name)
			}
		case !slices.ContainsFunc(groups, r.covers):
			probed = append(probed, r)
		}
	}
	if len(probed) > 0 {
		var names []string
		for _, r := range probed {
			names = append(names, askedName(r))
		}
		probes := groupAnswers(ctx, src, names)
		for _, r := range probed {
			if !listable(probes[askedName(r)], kerr.GroupAuthorizationFailed) {
				patterns = append(patterns, r)
			}
		}
	}
	slices.Sort(groups)
	for _, g := range groups {
		v.scope.Groups = append(v.scope.Groups, Resource{Type: TypeGroup, Name: g, Pattern: Literal})
	}
	if len(patterns) > 0 {
		var named []string
		for _, r := range patterns {
			named = append(named, r.String())
		}
		v.note("cannot list the groups of %s matching %s: needs Describe on them; their rows follow the pattern",
			f.Source, strings.Join(named, " or "))
		v.scope.Groups = append(v.scope.Groups, patterns...)
	}
	if len(v.scope.Groups) == 0 {
		v.note("%s selects no group of %s; group permissions not checked", f.Name(), f.Source)
	}
	return nil
}
