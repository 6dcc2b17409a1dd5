package status_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// largeReport is a flow of topics and groups numbered from 0: topic i
// lags i records (i seconds) and is at phase consumers-ready when i is
// even; group i is not ready when i%3 == 0, with as many reasons as i%7,
// switched when i%3 == 1, ready otherwise.
func largeReport(topics, groups int) status.Report {
	f := status.Flow{Name: "source->target", Source: "source", Target: "target", Direction: status.DirectionForward,
		State: status.StateCopying, Workers: []workgroup.Worker{{ID: "w1", Host: "/10.0.0.1", Holds: workgroup.Partitions{}}},
		Stalled: []string{}, Topics: []status.Topic{}, Groups: []status.Group{}, Blocked: []discover.Blocked{}, Errors: []string{}}
	for i := range topics {
		name := fmt.Sprintf("t%05d", i)
		t := status.Topic{Topic: name, Target: name, LagRecords: int64(i), LagSeconds: float64(i), Copied: 100,
			Partitions: []status.Partition{{Partition: 0, LagRecords: int64(i)}, {Partition: 1}}}
		if i%2 == 0 {
			t.Step = &status.Step{Phase: "consumers-ready", Timeline: []status.StepEvent{}}
		}
		f.Topics = append(f.Topics, t)
		f.Workers[0].Holds[name] = []int32{0, 1}
		if i%10 == 0 {
			f.Stalled = append(f.Stalled, name+"[0]")
		}
	}
	for i := range groups {
		g := status.Group{Group: fmt.Sprintf("g%05d", i), Verdict: status.VerdictReady, Reasons: []string{},
			Partitions: []status.GroupPartition{{Topic: "t00001", TargetTopic: "t00001", State: status.StateInSync}}}
		switch i % 3 {
		case 0:
			g.Verdict = status.VerdictNotReady
			for j := range i % 7 {
				g.Reasons = append(g.Reasons, fmt.Sprintf("t%05d[%d]: committed offset %d is not mirrored yet", j, j, i))
			}
		case 1:
			g.Verdict = status.VerdictSwitched
			g.Step = &status.Step{Phase: "consumers-switched", Timeline: []status.StepEvent{}}
		}
		f.Groups = append(f.Groups, g)
	}
	return status.Report{Time: time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC), Flows: []status.Flow{f}}
}

func names(f status.Flow) (topics, groups []string) {
	for _, t := range f.Topics {
		topics = append(topics, t.Topic)
	}
	for _, g := range f.Groups {
		groups = append(groups, g.Group)
	}
	return topics, groups
}

func TestQueryApply(t *testing.T) {
	r := largeReport(20, 12)
	tests := []struct {
		name                   string
		q                      status.Query
		topics, groups         []string // nil: none
		matchedTopics, matched int      // Page.Topics, Page.Groups
		stalled                []string
	}{
		{name: "topics by name", q: status.Query{Topics: []string{"t00003", "t00010", "nope"}},
			topics: []string{"t00003", "t00010"}, matchedTopics: 2, stalled: []string{"t00010[0]"}},
		{name: "groups by name", q: status.Query{Groups: []string{"g00004"}}, groups: []string{"g00004"}, matched: 1, stalled: []string{}},
		{name: "a topic and a group", q: status.Query{Topics: []string{"t00000"}, Groups: []string{"g00000"}},
			topics: []string{"t00000"}, groups: []string{"g00000"}, matchedTopics: 1, matched: 1, stalled: []string{"t00000[0]"}},
		{name: "search both kinds, any case", q: status.Query{Search: "T0001"},
			topics: []string{"t00010", "t00011", "t00012", "t00013", "t00014", "t00015", "t00016", "t00017", "t00018", "t00019"}, matchedTopics: 10,
			stalled: []string{"t00010[0]"}},
		{name: "phase", q: status.Query{Phases: []string{"consumers-switched"}},
			groups: []string{"g00001", "g00004", "g00007", "g00010"}, matched: 4, stalled: []string{}},
		{name: "mirroring is no recorded step", q: status.Query{Phases: []string{"mirroring"}, Search: "0000"},
			topics: []string{"t00001", "t00003", "t00005", "t00007", "t00009"}, groups: []string{"g00000", "g00002", "g00003", "g00005", "g00006", "g00008", "g00009"},
			matchedTopics: 5, matched: 7, stalled: []string{}},
		{name: "not ready", q: status.Query{Verdicts: []string{status.VerdictNotReady}},
			groups: []string{"g00000", "g00003", "g00006", "g00009"}, matched: 4, stalled: []string{}},
		{name: "lagging, paged", q: status.Query{Lagging: true, Offset: 2, Limit: 3},
			topics: []string{"t00003", "t00004", "t00005"}, matchedTopics: 19, stalled: []string{}},
		{name: "pages both kinds", q: status.Query{Offset: 10, Limit: 5},
			topics: []string{"t00010", "t00011", "t00012", "t00013", "t00014"}, groups: []string{"g00010", "g00011"}, matchedTopics: 20, matched: 12,
			stalled: []string{"t00010[0]"}},
		{name: "past the end", q: status.Query{Offset: 100, Limit: 5}, matchedTopics: 20, matched: 12, stalled: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.q.Apply(r)
			f := got.Flows[0]
			topics, groups := names(f)
			if !slices.Equal(topics, tc.topics) || !slices.Equal(groups, tc.groups) {
				t.Errorf("topics %v groups %v, want %v %v", topics, groups, tc.topics, tc.groups)
			}
			want := status.PageInfo{Offset: tc.q.Offset, Limit: tc.q.Limit, Topics: tc.matchedTopics, Groups: tc.matched}
			if f.Page == nil || *f.Page != want {
				t.Errorf("page %+v, want %+v", f.Page, want)
			}
			if !slices.Equal(f.Stalled, tc.stalled) {
				t.Errorf("stalled %v, want %v", f.Stalled, tc.stalled)
			}
			if held := len(f.Workers[0].Holds); held != len(topics) {
				t.Errorf("the worker holds %d topics in the answer, want the %d answered", held, len(topics))
			}
			if f.Topics == nil || f.Groups == nil || f.Blocked == nil {
				t.Error("a list is null in the answer")
			}
		})
	}
	if len(r.Flows[0].Topics) != 20 || len(r.Flows[0].Workers[0].Holds) != 20 {
		t.Error("Apply changed the report it answered from")
	}
}

// TestZeroQueryIsTheReport: without parameters the answer is the report,
// byte for byte as before queries existed (no "page" key).
func TestZeroQueryIsTheReport(t *testing.T) {
	r := largeReport(3, 3)
	got := status.Query{}.Apply(r)
	if !reflect.DeepEqual(got, r) {
		t.Fatal("the zero query changed the report")
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"page"`) {
		t.Errorf("a whole report has a page key: %s", b)
	}
}
