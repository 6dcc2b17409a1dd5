package status

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/journal"
)

// TestObserved: what a running worker records, given the journal so far
// and its report now.
func TestObserved(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := t0.Add(time.Hour)
	ev := func(subject journal.SubjectKind, name string, k journal.Kind, min int) journal.Event {
		return journal.Event{Flow: "A->B", Subject: subject, Name: name, Kind: k, Time: t0.Add(time.Duration(min) * time.Minute), By: "earlier"}
	}
	inSync := []GroupPartition{{Topic: "t1", State: StateInSync}}
	for _, c := range []struct {
		name     string
		story    []journal.Event
		topics   []Topic
		groups   []Group
		selected []string
		want     []string
	}{
		{name: "a new topic, caught up, and a group in sync",
			topics: []Topic{{Topic: "t1", Partitions: []Partition{{Partition: 0}}}}, selected: []string{"t1"},
			groups: []Group{{Group: "g", Partitions: inSync}},
			want:   []string{"topic t1 started", "topic t1 caught-up", "group g translated"}},
		{name: "a topic behind, a stopped partition, a group pending",
			topics: []Topic{{Topic: "t1", LagRecords: 5}, {Topic: "t2", Partitions: []Partition{{Stopped: "truncated"}}}}, selected: []string{"t1", "t2"},
			groups: []Group{{Group: "g", Partitions: []GroupPartition{{Topic: "t1", State: StatePending}}}},
			want:   []string{"topic t1 started", "topic t2 started"}},
		{name: "everything recorded already",
			story:  []journal.Event{ev(journal.TopicSubject, "t1", journal.Started, 0), ev(journal.TopicSubject, "t1", journal.CaughtUp, 1), ev(journal.GroupSubject, "g", journal.Translated, 2), ev(journal.GroupSubject, "g", journal.Switched, 3)},
			topics: []Topic{{Topic: "t1"}}, selected: []string{"t1"},
			groups: []Group{{Group: "g", Partitions: inSync, ActiveOnTarget: 1}}},
		{name: "a group on the target whose topics left the selection",
			story:  []journal.Event{ev(journal.GroupSubject, "g", journal.Ready, 0)},
			groups: []Group{{Group: "g", ActiveOnTarget: 2}},
			want:   []string{"group g switched"}},
		{name: "switched again after a rollback",
			story:  []journal.Event{ev(journal.GroupSubject, "g", journal.Switched, 0), ev(journal.GroupSubject, "g", journal.RolledBack, 5)},
			groups: []Group{{Group: "g", ActiveOnTarget: 1}},
			want:   []string{"group g switched"}},
		{name: "a topic left the selection, once",
			story: []journal.Event{ev(journal.TopicSubject, "t1", journal.Started, 0), ev(journal.TopicSubject, "t2", journal.Started, 0), ev(journal.TopicSubject, "t2", journal.Removed, 5)},
			want:  []string{"topic t1 removed"}},
		{name: "a topic back in the selection starts and catches up again",
			story:  []journal.Event{ev(journal.TopicSubject, "t1", journal.Started, 0), ev(journal.TopicSubject, "t1", journal.CaughtUp, 1), ev(journal.TopicSubject, "t1", journal.Removed, 5)},
			topics: []Topic{{Topic: "t1"}}, selected: []string{"t1"},
			want: []string{"topic t1 started", "topic t1 caught-up"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			selected := map[string]bool{}
			for _, s := range c.selected {
				selected[s] = true
			}
			out := &Flow{Name: "A->B", Topics: c.topics, Groups: c.groups}
			var got []string
			for _, e := range observed(journal.NewStory(c.story...), out, selected, at, "kmirror run on w1") {
				if e.Flow != "A->B" || !e.Time.Equal(at) || e.By != "kmirror run on w1" {
					t.Errorf("%+v", e)
				}
				got = append(got, fmt.Sprintf("%s %s %s", e.Subject, e.Name, e.Kind))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("recorded %q, want %q", got, c.want)
			}
		})
	}
}
