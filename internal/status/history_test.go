package status_test

import (
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/status"
)

// TestHistory: the lag history keeps the largest lag of each step over
// the last hour, per topic, and leaves out topics done or removed.
func TestHistory(t *testing.T) {
	h := status.NewHistory()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	report := func(at time.Time, lag int64, seconds float64) status.Report {
		return status.Report{Time: at, Flows: []status.Flow{{Name: "A->B", Topics: []status.Topic{
			{Topic: "t", LagRecords: lag, LagSeconds: seconds},
			{Topic: "gone", Step: &status.Step{Phase: "done"}},
		}}}}
	}
	h.Add(report(t0, 10, 1))
	h.Add(report(t0.Add(10*time.Second), 50, 0.5)) // same step: the largest of each
	h.Add(report(t0.Add(20*time.Second), 5, 3))
	h.Add(report(t0.Add(40*time.Second), 0, 0)) // the next step
	got := h.Snapshot()
	if len(got.Flows) != 1 || len(got.Flows[0].Topics) != 1 || got.Flows[0].Topics[0].Topic != "t" {
		t.Fatalf("history: %+v", got)
	}
	want := []status.LagPoint{{Time: t0, LagRecords: 50, LagSeconds: 3}, {Time: t0.Add(30 * time.Second), LagRecords: 0, LagSeconds: 0}}
	if ps := got.Flows[0].Topics[0].Points; len(ps) != len(want) || ps[0] != want[0] || ps[1] != want[1] {
		t.Errorf("points: %+v, want %+v", ps, want)
	}
	if got.StepSeconds != 30 || got.WindowSeconds != 3600 {
		t.Errorf("step %v, window %v", got.StepSeconds, got.WindowSeconds)
	}

	// An hour and a bit later, only the newest step is left.
	h.Add(report(t0.Add(time.Hour+31*time.Second), 7, 0.1))
	ps := h.Snapshot().Flows[0].Topics[0].Points
	if len(ps) != 1 || ps[0].LagRecords != 7 {
		t.Errorf("after an hour: %+v", ps)
	}
	// A topic no report shows for an hour is forgotten.
	h.Add(status.Report{Time: t0.Add(3 * time.Hour), Flows: []status.Flow{{Name: "A->B"}}})
	if ts := h.Snapshot().Flows[0].Topics; len(ts) != 0 {
		t.Errorf("topics after 3 hours without them: %+v", ts)
	}
}
