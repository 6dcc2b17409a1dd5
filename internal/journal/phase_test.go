package journal

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// TestPhasesWalkTheMigration walks the seed's steps (a)–(e) for two topics
// and two groups (app1-g reads both topics, app2-g only t1) and checks the
// phase of each after every step.
func TestPhasesWalkTheMigration(t *testing.T) {
	const flow = "A->B"
	minute := func(n int) time.Time { return at.Add(time.Duration(n) * time.Minute) }
	topic := func(name string, k Kind, n int, verdict string) Event {
		return Event{Flow: flow, Subject: TopicSubject, Name: name, Kind: k, Time: minute(n), By: "test", Verdict: verdict}
	}
	group := func(name string, k Kind, n int, verdict string, topics ...string) Event {
		return Event{Flow: flow, Subject: GroupSubject, Name: name, Kind: k, Time: minute(n), By: "test", Verdict: verdict, Topics: topics}
	}
	selected := map[string]bool{"t1": true, "t2": true}
	running := map[string]GroupNow{"app1-g": {Topics: []string{"t1", "t2"}}, "app2-g": {Topics: []string{"t1"}}}
	type phases map[string]Phase
	story := NewStory()
	for _, tc := range []struct {
		step           string
		events         []Event
		now            Now
		topics, groups phases
		since          map[string]time.Time // of topics and groups, when known
	}{
		{"(a) mirroring", []Event{topic("t1", Started, 0, ""), topic("t2", Started, 0, "")},
			Now{Selected: selected, Groups: running},
			phases{"t1": PhaseMirroring, "t2": PhaseMirroring}, phases{"app1-g": PhaseMirroring, "app2-g": PhaseMirroring},
			map[string]time.Time{"t1": minute(0)}},
		{"(b) one group ready", []Event{group("app1-g", Ready, 5, VerdictReady, "t1", "t2"), group("app2-g", Ready, 5, VerdictNotReady, "t1")},
			Now{Selected: selected, Groups: running},
			phases{"t1": PhaseMirroring, "t2": PhaseReady}, phases{"app1-g": PhaseReady, "app2-g": PhaseMirroring},
			map[string]time.Time{"t2": minute(5), "app1-g": minute(5)}},
		{"(b) the other ready now, no verdict asked", nil,
			Now{Selected: selected, Groups: map[string]GroupNow{"app1-g": running["app1-g"], "app2-g": {Topics: []string{"t1"}, Ready: true}}},
			phases{"t1": PhaseReady, "t2": PhaseReady}, phases{"app1-g": PhaseReady, "app2-g": PhaseReady},
			map[string]time.Time{"t1": minute(5), "app2-g": {}}},
		{"(c) consumers switched", []Event{group("app1-g", Switched, 10, "", "t1", "t2"), group("app2-g", Switched, 11, "", "t1")},
			Now{Selected: selected, Groups: map[string]GroupNow{"app1-g": {Topics: []string{"t1", "t2"}, OnTarget: true}, "app2-g": {Topics: []string{"t1"}, OnTarget: true}}},
			phases{"t1": PhaseSwitched, "t2": PhaseSwitched}, phases{"app1-g": PhaseSwitched, "app2-g": PhaseSwitched},
			map[string]time.Time{"t1": minute(11), "t2": minute(10), "app2-g": minute(11)}},
		{"(d) producers drained", []Event{topic("t1", Drained, 15, ""), topic("t2", Drained, 16, "")},
			Now{Selected: selected, Groups: map[string]GroupNow{"app1-g": {Topics: []string{"t1", "t2"}, OnTarget: true}, "app2-g": {Topics: []string{"t1"}, OnTarget: true}}},
			phases{"t1": PhaseDrained, "t2": PhaseDrained}, phases{"app1-g": PhaseDrained, "app2-g": PhaseDrained},
			map[string]time.Time{"t2": minute(16), "app1-g": minute(16), "app2-g": minute(15)}},
		{"verify: one identical, one not", []Event{topic("t1", Verified, 20, VerdictIdentical), topic("t2", Verified, 20, VerdictDiffers)},
			Now{Selected: selected, Groups: map[string]GroupNow{"app1-g": {Topics: []string{"t1", "t2"}, OnTarget: true}, "app2-g": {Topics: []string{"t1"}, OnTarget: true}}},
			phases{"t1": PhaseVerified, "t2": PhaseDrained}, phases{"app1-g": PhaseDrained, "app2-g": PhaseVerified},
			map[string]time.Time{"t1": minute(20), "app2-g": minute(20)}},
		{"(e) verified again, removed from the selection", []Event{topic("t2", Verified, 25, VerdictIdentical), topic("t1", Removed, 30, ""), topic("t2", Removed, 30, "")},
			// The groups' offsets are on no selected topic any more: only
			// the journal knows what they read.
			Now{Selected: map[string]bool{}, Groups: map[string]GroupNow{"app1-g": {OnTarget: true}, "app2-g": {OnTarget: true}}},
			phases{"t1": PhaseDone, "t2": PhaseDone}, phases{"app1-g": PhaseDone, "app2-g": PhaseDone},
			map[string]time.Time{"t1": minute(30), "app1-g": minute(30)}},
	} {
		for _, e := range tc.events {
			story.Add(e)
		}
		topics, groups := Phases(story, tc.now)
		check := func(what string, got map[string]Standing, want phases) {
			t.Helper()
			gotPhases := phases{}
			for name, st := range got {
				gotPhases[name] = st.Phase
			}
			if !maps.Equal(gotPhases, want) {
				t.Errorf("%s: %s %v, want %v", tc.step, what, gotPhases, want)
			}
		}
		check("topics", topics, tc.topics)
		check("groups", groups, tc.groups)
		for name, since := range tc.since {
			st, ok := topics[name]
			if !ok {
				st = groups[name]
			}
			if !st.Since.Equal(since) {
				t.Errorf("%s: %s since %s, want %s", tc.step, name, st.Since, since)
			}
		}
	}
}

func TestPhasesOffTheWay(t *testing.T) {
	const flow = "A->B"
	e := func(s SubjectKind, name string, k Kind, n int, verdict string) Event {
		return Event{Flow: flow, Subject: s, Name: name, Kind: k, Time: at.Add(time.Duration(n) * time.Minute), By: "test", Verdict: verdict}
	}
	for _, tc := range []struct {
		name           string
		events         []Event
		now            Now
		topics, groups map[string]Phase
	}{
		{"rolled back after the switch",
			[]Event{e(TopicSubject, "t", Started, 0, ""), e(GroupSubject, "g", Switched, 1, ""), e(GroupSubject, "g", RolledBack, 2, "")},
			Now{Selected: map[string]bool{"t": true}, Groups: map[string]GroupNow{"g": {Topics: []string{"t"}}}},
			map[string]Phase{"t": PhaseMirroring}, map[string]Phase{"g": PhaseRolledBack}},
		{"switched again after a rollback",
			[]Event{e(GroupSubject, "g", Switched, 1, ""), e(GroupSubject, "g", RolledBack, 2, ""), e(GroupSubject, "g", Switched, 3, "")},
			Now{Selected: map[string]bool{"t": true}, Groups: map[string]GroupNow{"g": {Topics: []string{"t"}, OnTarget: true}}},
			map[string]Phase{"t": PhaseSwitched}, map[string]Phase{"g": PhaseSwitched}},
		{"removed without a verification",
			[]Event{e(TopicSubject, "t", Started, 0, ""), e(TopicSubject, "t", Removed, 1, "")},
			Now{Selected: map[string]bool{}},
			map[string]Phase{"t": PhaseRemoved}, map[string]Phase{}},
		{"verified after it was removed is not done",
			[]Event{e(TopicSubject, "t", Removed, 1, ""), e(TopicSubject, "t", Verified, 2, VerdictIdentical)},
			Now{Selected: map[string]bool{}},
			map[string]Phase{"t": PhaseRemoved}, map[string]Phase{}},
		{"selected again after removal",
			[]Event{e(TopicSubject, "t", Started, 0, ""), e(TopicSubject, "t", Removed, 1, "")},
			Now{Selected: map[string]bool{"t": true}},
			map[string]Phase{"t": PhaseMirroring}, map[string]Phase{}},
		{"a group on the target with no story is switched",
			nil,
			Now{Selected: map[string]bool{"t": true}, Groups: map[string]GroupNow{"g": {Topics: []string{"t"}, OnTarget: true}}},
			map[string]Phase{"t": PhaseSwitched}, map[string]Phase{"g": PhaseSwitched}},
		{"not selected, no story: no phase",
			nil, Now{Selected: map[string]bool{"t": false}},
			map[string]Phase{}, map[string]Phase{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topics, groups := Phases(NewStory(tc.events...), tc.now)
			for what, pair := range map[string][2]any{"topics": {topics, tc.topics}, "groups": {groups, tc.groups}} {
				got := map[string]Phase{}
				for n, st := range pair[0].(map[string]Standing) {
					got[n] = st.Phase
				}
				if !maps.Equal(got, pair[1].(map[string]Phase)) {
					t.Errorf("%s %v, want %v", what, got, pair[1])
				}
			}
		})
	}
}

// TestTimelineOrder: a timeline lists steps by time, and steps of the same
// time in the order a migration takes them.
func TestTimelineOrder(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ev := func(k Kind, sec int) Event {
		return Event{Flow: "A->B", Subject: TopicSubject, Name: "t", Kind: k, Time: at.Add(time.Duration(sec) * time.Second)}
	}
	for range 20 { // map order varies from run to run
		s := NewStory(ev(Removed, 9), ev(Verified, 5), ev(CaughtUp, 0), ev(Started, 0), ev(Drained, 5))
		var got []Kind
		for _, e := range s.Timeline(TopicSubject, "t") {
			got = append(got, e.Kind)
		}
		if want := []Kind{Started, CaughtUp, Drained, Verified, Removed}; !slices.Equal(got, want) {
			t.Fatalf("timeline %v, want %v", got, want)
		}
	}
}
