package migrate

import (
	"slices"
	"time"

	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/status"
)

// Events are the verdict's steps for the migration's journal: per flow, a
// ready verdict (ready or not, with its reasons and the group's topics),
// and a switch when the group already runs on the target.
func (v Verdict) Events(at time.Time, by string) []journal.Event {
	var es []journal.Event
	for _, g := range v.Flows {
		topics := topicsOf(g.Partitions, func(p status.GroupPartition) string { return p.Topic })
		e := journal.Event{Flow: g.Flow, Subject: journal.GroupSubject, Name: v.Group, Kind: journal.Ready, Time: at, By: by,
			Verdict: journal.VerdictNotReady, Reasons: g.Reasons, Topics: topics}
		if g.Verdict != status.VerdictNotReady {
			e.Verdict = journal.VerdictReady
		}
		es = append(es, e)
		if g.Verdict == status.VerdictSwitched {
			e.Kind, e.Verdict, e.Reasons = journal.Switched, "", nil
			es = append(es, e)
		}
	}
	return es
}

// Events are the rollback's steps for the migration's journal: once its
// offsets were committed on the sources, the group rolled back in each
// flow.
func (b RollbackResult) Events(at time.Time, by string) []journal.Event {
	if !b.Committed {
		return nil
	}
	var es []journal.Event
	for _, f := range b.Flows {
		topics := topicsOf(f.Partitions, func(p RollbackPartition) string { return p.Topic })
		es = append(es, journal.Event{Flow: f.Flow, Subject: journal.GroupSubject, Name: b.Group, Kind: journal.RolledBack, Time: at, By: by, Topics: topics})
	}
	return es
}

// Events are the drain's steps for the migration's journal, once the
// topics are drained: each topic of each flow watched.
func (d *Drainer) Events(at time.Time, by string) []journal.Event {
	var es []journal.Event
	for f, topics := range d.topics {
		for _, t := range topics {
			es = append(es, journal.Event{Flow: f.Name(), Subject: journal.TopicSubject, Name: t, Kind: journal.Drained, Time: at, By: by})
		}
	}
	return es
}

// topicsOf lists the topics of partitions, each once, in order.
func topicsOf[P any](ps []P, topic func(P) string) []string {
	var topics []string
	for _, p := range ps {
		if t := topic(p); !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	return topics
}
