package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// largeFlow is a flow of n topics and n groups: topic i lags i records,
// group i is not ready when i%4 == 0 and switched when i%4 == 1.
func largeFlow(n int) status.Report {
	rate := 50.0
	f := status.Flow{Name: "source->target", Source: "source", Target: "target", Direction: status.DirectionForward, State: status.StateCopying,
		Workers: []workgroup.Worker{{ID: "kmirror-1f0c", Client: "kmirror", Host: "/10.0.0.7", Holds: workgroup.Partitions{}}},
		Stalled: []string{}, Blocked: []discover.Blocked{{Topic: "b1", Reason: "the target topic has fewer partitions"}}, Errors: []string{}}
	for i := range n {
		name := fmt.Sprintf("app-t%03d", i)
		f.Topics = append(f.Topics, status.Topic{Topic: name, Target: name, LagRecords: int64(i), LagSeconds: float64(n-i) / 10, RecordsPerSecond: &rate,
			Copied: 1000, Partitions: []status.Partition{}, Step: &status.Step{Phase: "mirroring", Timeline: []status.StepEvent{}}})
		f.Workers[0].Holds[name] = []int32{0}
		g := status.Group{Group: fmt.Sprintf("app-g%03d", i), Verdict: status.VerdictReady, Reasons: []string{}, Partitions: []status.GroupPartition{}}
		switch i % 4 {
		case 0:
			g.Verdict, g.ActiveOnSource = status.VerdictNotReady, 1
			g.Reasons = []string{"1 consumers are still active on the source: stop them, then wait for their last offsets to be synced"}
		case 1:
			g.Verdict, g.ActiveOnTarget = status.VerdictSwitched, 2
			g.Step = &status.Step{Phase: "consumers-switched", Timeline: []status.StepEvent{}}
		}
		f.Groups = append(f.Groups, g)
	}
	return status.Report{Time: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Flows: []status.Flow{f}}
}

func TestStatusSelection(t *testing.T) {
	small, large := largeFlow(3), largeFlow(60)
	tests := []struct {
		name   string
		sel    selection
		report status.Report
		golden string // "": the output is every row, as printStatus writes it
	}{
		{name: "small flow: every row", sel: selection{over: DefaultSummaryOver}, report: small},
		{name: "large flow: the summary", sel: selection{over: DefaultSummaryOver}, report: large, golden: "status-summary"},
		{name: "large flow, --all", sel: selection{over: DefaultSummaryOver, all: true}, report: large},
		{name: "large flow, higher --summary-over", sel: selection{over: 60}, report: large},
		{name: "small flow, --summary", sel: selection{over: DefaultSummaryOver, summary: true}, report: small, golden: "status-summary-small"},
		{name: "--topic and --group", sel: selection{over: DefaultSummaryOver, topics: []string{"app-t007"}, groups: []string{"app-g004", "app-g005"}},
			report: large, golden: "status-selected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := tc.sel.print(&out, tc.report, 10*time.Second, false); err != nil {
				t.Fatal(err)
			}
			if tc.golden != "" {
				golden(t, tc.golden, out.String())
				return
			}
			var every bytes.Buffer
			printStatus(&every, tc.report, 10*time.Second)
			if out.String() != every.String() {
				t.Errorf("not every row:\n%s", out.String())
			}
		})
	}
}

// TestStatusJSONIsTheAPI: --json prints what /api/v1/status answers for
// the same selection, whatever --summary-over says; --summary --json what
// /api/v1/status/summary does.
func TestStatusJSONIsTheAPI(t *testing.T) {
	large := largeFlow(60)
	tests := []struct {
		name string
		sel  selection
		want any
	}{
		{name: "whole", sel: selection{over: DefaultSummaryOver}, want: large},
		{name: "a group", sel: selection{over: DefaultSummaryOver, groups: []string{"app-g004"}}, want: status.Query{Groups: []string{"app-g004"}}.Apply(large)},
		{name: "summary", sel: selection{over: DefaultSummaryOver, summary: true}, want: status.Summarize(large, status.DefaultWorst)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got, want bytes.Buffer
			if err := tc.sel.print(&got, large, 10*time.Second, true); err != nil {
				t.Fatal(err)
			}
			if err := writeJSON(&want, tc.want); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() || !json.Valid(got.Bytes()) {
				t.Errorf("got %.400s\nwant %.400s", got.String(), want.String())
			}
		})
	}
}

func TestStatusSelectionFlags(t *testing.T) {
	tests := []struct {
		sel  selection
		want string
	}{
		{selection{over: -1}, "--summary-over -1 is negative"},
		{selection{summary: true, all: true}, "--summary shows no rows"},
		{selection{summary: true, topics: []string{"t"}}, "--summary shows no rows"},
		{selection{over: 0, all: true}, ""},
	}
	for _, tc := range tests {
		err := tc.sel.check()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.sel, err, tc.want)
		}
	}
}
