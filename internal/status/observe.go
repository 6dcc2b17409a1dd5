package status

import (
	"slices"
	"time"

	"github.com/kmirror/kmirror/internal/journal"
)

// observed are the steps a running worker sees in its report of one flow
// and the journal has not recorded yet: a selected topic started (again,
// after it was removed) and caught up, a group's offsets all translated
// and committed on the target, its consumers active on the target (again,
// after a rollback), and a topic the journal saw started that the flow no
// longer selects. Only what is missing is returned, so a worker that
// restarts, or several that share a flow, record each step once (two
// workers may record the same step seconds apart; the journal keeps the
// latter).
func observed(s *journal.Story, out *Flow, selected map[string]bool, at time.Time, by string) []journal.Event {
	var events []journal.Event
	add := func(subject journal.SubjectKind, name string, k journal.Kind, counts map[string]int64, topics []string) {
		events = append(events, journal.Event{Flow: out.Name, Subject: subject, Name: name, Kind: k, Time: at, By: by, Counts: counts, Topics: topics})
	}
	// since is when a topic's present spell in the selection began: steps
	// older than it belong to an earlier one.
	since := func(t string) (time.Time, bool) {
		e, ok := s.Event(journal.TopicSubject, t, journal.Started)
		if !ok {
			return time.Time{}, false
		}
		if r, ok := s.Event(journal.TopicSubject, t, journal.Removed); ok && r.Time.After(e.Time) {
			return time.Time{}, false
		}
		return e.Time, true
	}
	for _, t := range out.Topics {
		if !selected[t.Topic] {
			continue
		}
		start, ok := since(t.Topic)
		if !ok {
			var counts map[string]int64
			if len(t.Partitions) > 0 {
				counts = map[string]int64{"partitions": int64(len(t.Partitions))}
			}
			add(journal.TopicSubject, t.Topic, journal.Started, counts, nil)
			start = at
		}
		if t.LagRecords == 0 && !stopped(t) {
			if e, ok := s.Event(journal.TopicSubject, t.Topic, journal.CaughtUp); !ok || e.Time.Before(start) {
				add(journal.TopicSubject, t.Topic, journal.CaughtUp, map[string]int64{"copied": t.Copied}, nil)
			}
		}
	}
	for _, t := range s.Names(journal.TopicSubject) {
		if _, ok := since(t); ok && !selected[t] {
			add(journal.TopicSubject, t, journal.Removed, nil, nil)
		}
	}
	for _, g := range out.Groups {
		topics := groupTopics(g)
		if _, ok := s.Event(journal.GroupSubject, g.Group, journal.Translated); !ok && len(g.Partitions) > 0 && inSync(g) {
			add(journal.GroupSubject, g.Group, journal.Translated, map[string]int64{"partitions": int64(len(g.Partitions))}, topics)
		}
		if g.ActiveOnTarget > 0 {
			sw, ok := s.Event(journal.GroupSubject, g.Group, journal.Switched)
			if back, backOK := s.Event(journal.GroupSubject, g.Group, journal.RolledBack); !ok || backOK && back.Time.After(sw.Time) {
				add(journal.GroupSubject, g.Group, journal.Switched, map[string]int64{"members": int64(g.ActiveOnTarget)}, topics)
			}
		}
	}
	return events
}

// stopped tells whether a partition of t is not copied.
func stopped(t Topic) bool {
	return slices.ContainsFunc(t.Partitions, func(p Partition) bool { return p.Stopped != "" })
}

// inSync tells whether every offset g committed on the source is
// translated and committed on the target.
func inSync(g Group) bool {
	return !slices.ContainsFunc(g.Partitions, func(p GroupPartition) bool { return p.State != StateInSync })
}

// groupTopics are the source topics g committed offsets on.
func groupTopics(g Group) []string {
	var ts []string
	for _, p := range g.Partitions {
		if !slices.Contains(ts, p.Topic) {
			ts = append(ts, p.Topic)
		}
	}
	slices.Sort(ts)
	return ts
}
