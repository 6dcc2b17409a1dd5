package httpapi_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/httpapi/browsertest"
	"github.com/kmirror/kmirror/internal/status"
)

// migratingReport is a flow midway through its migration: app1 is being
// switched, app0 finished earlier and left the allow-list.
func migratingReport(now time.Time) status.Report {
	at := func(min int) *time.Time {
		t := now.Add(-time.Duration(min) * time.Minute).UTC().Truncate(time.Millisecond)
		return &t
	}
	ev := func(event string, min int, by string) status.StepEvent {
		return status.StepEvent{Event: event, Time: *at(min), By: by}
	}
	return status.Report{Time: now, Flows: []status.Flow{{
		Name: "source->target", Source: "source", Target: "target", Direction: status.DirectionForward, State: status.StateCaughtUp,
		Topics: []status.Topic{
			{Topic: "app1-t1", Target: "app1-t1", Copied: 120, Partitions: []status.Partition{{Partition: 0}},
				Step: &status.Step{Phase: "consumers-switched", Since: at(5), By: "kmirror run on w1",
					Timeline: []status.StepEvent{ev("started", 90, "kmirror run on w1"), ev("caught-up", 89, "kmirror run on w1")}}},
			{Topic: "app0-t1", Target: "app0-t1", Copied: 4000, Partitions: []status.Partition{},
				Step: &status.Step{Phase: "done", Since: at(60), By: "kmirror run on w1",
					Timeline: []status.StepEvent{ev("started", 300, "kmirror run on w1"), ev("verified", 70, "kmirror verify on ops"), ev("removed", 60, "kmirror run on w1")}}},
		},
		Groups: []status.Group{
			{Group: "app1-g", Verdict: status.VerdictSwitched, ActiveOnTarget: 1, Reasons: []string{},
				Partitions: []status.GroupPartition{{Topic: "app1-t1", TargetTopic: "app1-t1", State: status.StateInSync}},
				Step: &status.Step{Phase: "consumers-switched", Since: at(5), By: "kmirror run on w1",
					Timeline: []status.StepEvent{ev("translated", 88, "kmirror run on w1"),
						{Event: "ready", Time: *at(10), By: "kmirror migrate ready on ops", Verdict: "ready"}, ev("switched", 5, "kmirror run on w1")}}},
			{Group: "app0-g", Verdict: status.VerdictSwitched, Reasons: []string{}, Partitions: []status.GroupPartition{},
				Step: &status.Step{Phase: "done", Since: at(60), By: "kmirror run on w1",
					Timeline: []status.StepEvent{{Event: "switched", Time: *at(80), By: "kmirror run on w1", Topics: []string{"app0-t1"}}}}},
		},
		Blocked: []discover.Blocked{}, Errors: []string{},
	}}}
}

// TestPageTellsTheMigration: the page lists each topic and group with its
// phase, time in phase and recorded steps, a lag sparkline for the topics
// still copied, and the finished ones folded away but listed, a finished
// topic with the records it had copied; the topics and groups tables show
// only what is still mirrored.
func TestPageTellsTheMigration(t *testing.T) {
	browsertest.Chromium(t)
	now := time.Now()
	rep := migratingReport(now)
	var points []status.LagPoint
	for i := range 10 {
		points = append(points, status.LagPoint{Time: now.Add(-time.Duration(10-i) * status.HistoryStep).UTC(), LagRecords: int64(100 * i)})
	}
	history := status.LagHistory{Time: now, StepSeconds: 30, WindowSeconds: 3600, Flows: []status.FlowHistory{{Name: "source->target",
		Topics: []status.TopicHistory{{Topic: "app1-t1", Points: points}}}}}
	url := browsertest.StartServer(t, httpapi.Handler(httpapi.Options{
		Status:  func(context.Context) (status.Report, error) { return rep, nil },
		History: func() status.LagHistory { return history },
	}))
	page := browsertest.Read(t, browsertest.LoadPage(t, url))
	if page.State != "ok" || len(page.Flows) != 1 {
		t.Fatalf("page state %q, %d flows", page.State, len(page.Flows))
	}
	f := page.Flows[0]
	byName := map[string]browsertest.App{}
	for _, a := range f.Apps {
		byName[a.Kind+" "+a.Name] = a
	}
	want := []struct {
		app, phase string
		inPhase    int // minutes
		finished   bool
		timeline   []string
		lagPoints  int
		copied     int64 // -1: the row shows no copied figure
	}{
		{"group app1-g", "consumers-switched", 5, false, []string{"translated", "ready", "switched"}, -1, -1},
		{"topic app1-t1", "consumers-switched", 5, false, []string{"started", "caught-up"}, 10, -1},
		{"group app0-g", "done", 60, true, []string{"switched"}, -1, -1},
		{"topic app0-t1", "done", 60, true, []string{"started", "verified", "removed"}, -1, 4000},
	}
	if len(f.Apps) != len(want) {
		t.Errorf("%d rows in the migration table, want %d: %+v", len(f.Apps), len(want), f.Apps)
	}
	for _, w := range want {
		a, ok := byName[w.app]
		if !ok {
			t.Errorf("%s not in the migration table", w.app)
			continue
		}
		seconds, err := strconv.Atoi(a.InPhase)
		if err != nil {
			t.Errorf("%s: time in phase %q is no number of seconds", w.app, a.InPhase)
		}
		inPhase := time.Duration(seconds) * time.Second
		copied := int64(-1)
		if a.Copied != nil {
			copied = *a.Copied
		}
		if copied != w.copied {
			t.Errorf("%s: shows %d records copied, want %d (-1: no figure)", w.app, copied, w.copied)
		}
		if a.Phase != w.phase || a.Finished != w.finished || !slices.Equal(a.Timeline, w.timeline) || a.LagPoints != w.lagPoints ||
			(inPhase-time.Duration(w.inPhase)*time.Minute).Abs() > time.Minute {
			t.Errorf("%s: %+v, want phase %s for %d min, finished %v, timeline %v, %d lag points", w.app, a, w.phase, w.inPhase, w.finished, w.timeline, w.lagPoints)
		}
	}
	// Each group is followed by the topics it reads.
	var order []string
	for _, a := range f.Apps {
		order = append(order, fmt.Sprintf("%s %s member=%v", a.Kind, a.Name, a.Member))
	}
	if want := []string{"group app1-g member=false", "topic app1-t1 member=true", "group app0-g member=false", "topic app0-t1 member=true"}; !slices.Equal(order, want) {
		t.Errorf("rows %q, want %q", order, want)
	}
	if len(f.Topics) != 1 || f.Topics[0].Topic != "app1-t1" || len(f.Groups) != 1 || f.Groups[0].Group != "app1-g" {
		t.Errorf("the topics and groups tables list what is finished: %+v %+v", f.Topics, f.Groups)
	}
	shot := filepath.Join(browsertest.ArtifactDir(t), "status-page-migration.png")
	browsertest.Screenshot(t, url, shot)
	t.Logf("screenshot: %s", shot)
}
