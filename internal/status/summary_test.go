package status_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/kmirror/kmirror/internal/status"
)

func TestSummarize(t *testing.T) {
	r := largeReport(30, 20)
	r.Flows[0].Topics[29].Step = &status.Step{Phase: "done"} // finished: not among the worst
	s := status.Summarize(r, 3)
	f := s.Flows[0]
	topicNames := func(ts []status.TopicLag) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Topic)
		}
		return out
	}
	var notReady []string
	for _, g := range f.NotReady {
		notReady = append(notReady, g.Group)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"topics", f.Topics.Total, 30},
		{"partitions", f.Topics.Partitions, 60},
		{"lagging", f.Topics.Lagging, 29},
		{"lag records", f.Topics.LagRecords, int64(29 * 30 / 2)},
		{"topics by phase", f.Topics.ByPhase, map[string]int{"consumers-ready": 15, "mirroring": 14, "done": 1}},
		{"groups", f.Groups.Total, 20},
		{"groups by verdict", f.Groups.ByVerdict, map[string]int{"not-ready": 7, "switched": 7, "ready": 6}},
		{"groups by phase", f.Groups.ByPhase, map[string]int{"consumers-switched": 7, "mirroring": 13}},
		{"worst in records", topicNames(f.WorstLagRecords), []string{"t00028", "t00027", "t00026"}},
		{"worst in seconds", topicNames(f.WorstLagSeconds), []string{"t00028", "t00027", "t00026"}},
		{"not ready", notReady, []string{"g00000", "g00003", "g00006"}},
		{"reasons", f.NotReady[1].Reasons.Count, 3},
		{"stalled", f.Stalled.Count, 3},
		{"workers", f.Workers, []status.WorkerSummary{{ID: "w1", Host: "/10.0.0.1", Held: 60}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !equal(tc.got, tc.want) {
				t.Errorf("%v, want %v", tc.got, tc.want)
			}
		})
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]int:
		return maps.Equal(a, b.(map[string]int))
	case []string:
		return slices.Equal(a, b.([]string))
	case []status.WorkerSummary:
		return slices.Equal(a, b.([]status.WorkerSummary))
	}
	return a == b
}

// TestSummaryIsSmallAtScale: the summary of a flow of 10 000 groups and
// 10 000 topics (20 000 partitions) stays a few KB, where the report is
// megabytes.
func TestSummaryIsSmallAtScale(t *testing.T) {
	r := largeReport(10_000, 10_000)
	whole, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := json.MarshalIndent(status.Summarize(r, status.DefaultWorst), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const bound = 16 << 10
	if len(sum) > bound {
		t.Errorf("the summary of 10 000 groups is %d bytes, want at most %d", len(sum), bound)
	}
	t.Logf("10 000 topics and groups: report %d bytes, summary %d bytes (indented)", len(whole), len(sum))
}
