package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/httpapi/browsertest"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// xssGroup is a group name that would inject an image if the page used it
// as markup.
const xssGroup = `app2-<img src=x onerror="document.title='xss'">`

// changingReport is a report source whose values change with every call,
// like a mirror catching up: lags rise for 6 calls, then fall. The call
// number is also the lag of app1-t1 modulo 1000, so a page that shows a
// lag tells which report it rendered.
type changingReport struct {
	mu       sync.Mutex
	calls    int
	failFrom int // the first call that fails; 0 never
}

func (c *changingReport) Status(context.Context) (status.Report, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.mu.Unlock()
	if c.failFrom > 0 && n >= c.failFrom {
		return status.Report{}, errors.New("list groups on source: dial tcp 10.0.0.1:9092: connection refused")
	}
	return reportAt(n), nil
}

// callOf is the call whose report showed lag for app1-t1.
func callOf(lag int64) int { return int(lag % 1000) }

// reportAt is the report of the nth call.
func reportAt(n int) status.Report {
	tri := int64(min(n, max(12-n, 0)))
	lag := 1000*tri + int64(n)
	rate := float64(40 + n)
	hb := &status.Heartbeat{Time: time.Now().Add(-time.Second), RTTSeconds: 0.002 + 0.001*float64(n%4)}
	return status.Report{
		Time: time.Now(),
		Flows: []status.Flow{{
			Name: "source->target", Source: "source", Target: "target", State: status.StateCopying,
			Workers: []workgroup.Worker{{ID: "w-1", Client: "kmirror", Host: "/10.0.0.7", Holds: workgroup.Partitions{"app1-t1": {0, 1}, "app1-t2": {0}}},
				{ID: "w-2", Client: "kmirror", Host: "/10.0.0.8", Holds: workgroup.Partitions{"app1-t2": {1}, "app2-t1": {0}}}},
			LastProgress: &hb.Time,
			Topics: []status.Topic{
				{Topic: "app1-t1", Target: "app1-t1", LagRecords: lag, LagSeconds: float64(tri) * 1.5, RecordsPerSecond: &rate, Copied: 10000 + 500*int64(n)},
				{Topic: "app1-t2", Target: "app1-t2", LagRecords: lag / 3, LagSeconds: 0.4, RecordsPerSecond: &rate, Copied: 2000 + 100*int64(n),
					Partitions: []status.Partition{{Partition: 0}, {Partition: 1, Stopped: "the source's retention overtook the mirror: offsets 100-199 lost"}}},
				{Topic: "app2-t1", Target: "app2-t1", LagRecords: 0, LagSeconds: 0, Copied: 7},
			},
			Blocked: []discover.Blocked{{Topic: "app3-t1", Reason: "the source topic was recreated; delete the target topic to mirror it again"}},
			Groups: []status.Group{
				{Group: "app1-orders", Verdict: status.VerdictReady, Reasons: []string{}},
				{Group: "app1-billing", Verdict: status.VerdictSwitched, ActiveOnTarget: 2, Reasons: []string{}},
				{Group: xssGroup, Verdict: status.VerdictNotReady, ActiveOnSource: 3,
					Reasons: []string{"3 members still active on the source", "app2-t1[0]: <b>pending</b> translation"}},
			},
			Heartbeat: hb,
			Errors:    []string{},
		}, {
			Name: "east->target", Source: "east", Target: "target", State: status.StateStopped, StateReason: status.ReasonNoWorker,
			Workers: []workgroup.Worker{}, Stalled: []string{},
			Topics: []status.Topic{}, Groups: []status.Group{}, Blocked: []discover.Blocked{},
			Errors: []string{"describe groups on east: NOT_COORDINATOR"},
		}},
	}
}

// TestPage loads the page in headless Chromium twice while the report
// changes, checks that it renders each report, and takes a screenshot.
func TestPage(t *testing.T) {
	browsertest.Chromium(t)
	src := &changingReport{}
	url := browsertest.StartServer(t, httpapi.Handler(httpapi.Options{Status: src.Status}))

	first := browsertest.Read(t, browsertest.LoadPage(t, url))
	checkRendered(t, first)
	second := browsertest.Read(t, browsertest.LoadPage(t, url))
	checkRendered(t, second)

	lag1, lag2 := first.Flows[0].Topics[0].LagRecords, second.Flows[0].Topics[0].LagRecords
	if lag1 == lag2 {
		t.Errorf("app1-t1 shows the same lag %d on two loads while the report changed", lag1)
	}
	if callOf(lag2) <= callOf(lag1) {
		t.Errorf("second load shows the report of call %d, first of call %d", callOf(lag2), callOf(lag1))
	}
	if first.Updated == second.Updated {
		t.Errorf("data-updated did not change: %q", first.Updated)
	}

	shot := filepath.Join(browsertest.ArtifactDir(t), "status-page.png")
	browsertest.Screenshot(t, url, shot)
	t.Logf("screenshot of the status page: %s", shot)
}

// checkRendered checks that page shows exactly the report it polled last.
func checkRendered(t *testing.T, page browsertest.Page) {
	t.Helper()
	if page.State != "ok" || page.Polls < 1 || page.Updated == "" || page.Error != "" {
		t.Fatalf("page state %q after %d polls (updated %q, error %q)", page.State, page.Polls, page.Updated, page.Error)
	}
	if page.Images != 0 || page.Title != "kmirror status" {
		t.Errorf("markup from the report was injected: %d images, title %q", page.Images, page.Title)
	}
	if len(page.Flows) != 2 {
		t.Fatalf("%d flows shown, want 2", len(page.Flows))
	}
	if len(page.Flows[0].Topics) == 0 {
		t.Fatal("no topic rows")
	}
	want := reportAt(callOf(page.Flows[0].Topics[0].LagRecords))
	for i, wf := range want.Flows {
		f := page.Flows[i]
		if f.Name != wf.Name {
			t.Errorf("flow %d is %q, want %q", i, f.Name, wf.Name)
		}
		if !slices.Equal(f.Errors, wf.Errors) && len(f.Errors)+len(wf.Errors) > 0 {
			t.Errorf("flow %s errors %q, want %q", wf.Name, f.Errors, wf.Errors)
		}
		checkTopics(t, f, wf)
		checkGroups(t, f, wf)
		if state := wf.State + ": " + wf.StateReason; wf.StateReason != "" && f.State != state || wf.StateReason == "" && f.State != wf.State {
			t.Errorf("flow %s shows state %q, want %q (%s)", wf.Name, f.State, wf.State, wf.StateReason)
		}
		if f.WorkerCount != len(wf.Workers) {
			t.Errorf("flow %s shows %d workers, want %d: %q", wf.Name, f.WorkerCount, len(wf.Workers), f.Workers)
		}
		for _, w := range wf.Workers {
			if !strings.Contains(f.Workers, w.Host) {
				t.Errorf("flow %s: the workers line %q does not name %s", wf.Name, f.Workers, w.Host)
			}
		}
		if wf.Heartbeat != nil && f.HeartbeatPoints < 1 {
			t.Errorf("flow %s: heartbeat chart has no point", wf.Name)
		}
		if len(f.Blocked) != len(wf.Blocked) {
			t.Errorf("flow %s: %d blocked topics shown, want %d", wf.Name, len(f.Blocked), len(wf.Blocked))
		}
		for j, b := range wf.Blocked {
			if j < len(f.Blocked) && (f.Blocked[j].Topic != b.Topic || f.Blocked[j].Reason != b.Reason) {
				t.Errorf("blocked row %+v, want %+v", f.Blocked[j], b)
			}
		}
	}
}

func checkTopics(t *testing.T, f browsertest.Flow, wf status.Flow) {
	t.Helper()
	if len(f.Topics) != len(wf.Topics) {
		t.Fatalf("flow %s: %d topic rows, want %d", wf.Name, len(f.Topics), len(wf.Topics))
	}
	var maxLag int64
	for _, wt := range wf.Topics {
		maxLag = max(maxLag, wt.LagRecords)
	}
	for i, wt := range wf.Topics {
		got := f.Topics[i]
		var stopped []string
		for _, p := range wt.Partitions {
			if p.Stopped != "" {
				stopped = append(stopped, fmt.Sprintf("partition %d stopped: %s", p.Partition, p.Stopped))
			}
		}
		if !slices.Equal(got.Stopped, stopped) {
			t.Errorf("topic %s: stopped partitions shown %q, want %q", wt.Topic, got.Stopped, stopped)
		}
		bar := 0.0
		if maxLag > 0 {
			bar = 100 * float64(wt.LagRecords) / float64(maxLag)
		}
		if got.Topic != wt.Topic || got.Target != wt.Target || got.LagRecords != wt.LagRecords ||
			got.LagSeconds != wt.LagSeconds || got.Copied != wt.Copied || !sameRate(got.RecordsPerSecond, wt.RecordsPerSecond) ||
			math.Abs(got.LagBarPercent-bar) > 0.1 {
			t.Errorf("topic row %d: %+v, want %+v with a lag bar of %.1f%%", i, got, wt, bar)
		}
	}
}

func checkGroups(t *testing.T, f browsertest.Flow, wf status.Flow) {
	t.Helper()
	if len(f.Groups) != len(wf.Groups) {
		t.Fatalf("flow %s: %d group rows, want %d", wf.Name, len(f.Groups), len(wf.Groups))
	}
	for i, wg := range wf.Groups {
		got := f.Groups[i]
		if got.Group != wg.Group || got.Verdict != wg.Verdict || got.Badge != wg.Verdict ||
			!strings.Contains(got.BadgeClass, "badge-"+wg.Verdict) ||
			got.ActiveOnSource != wg.ActiveOnSource || got.ActiveOnTarget != wg.ActiveOnTarget ||
			!slices.Equal(got.Reasons, wg.Reasons) && len(got.Reasons)+len(wg.Reasons) > 0 {
			t.Errorf("group row %d: %+v, want %+v", i, got, wg)
		}
	}
}

func sameRate(got, want *float64) bool {
	if got == nil || want == nil {
		return got == want
	}
	return *got == *want
}

// TestPageShowsAPIFailure: when the API fails after a first report, the
// page says so and keeps showing the last report.
func TestPageShowsAPIFailure(t *testing.T) {
	browsertest.Chromium(t)
	// Call 1 is the server's first render of the page, calls 2 and 3 the
	// first poll (its summary and its page of details); the API fails from
	// the second poll on.
	src := &changingReport{failFrom: 4}
	url := browsertest.StartServer(t, httpapi.Handler(httpapi.Options{Status: src.Status}))

	page := browsertest.Read(t, browsertest.LoadPage(t, url))
	if page.State != "error" {
		t.Fatalf("page state %q, want error", page.State)
	}
	for _, want := range []string{"Cannot read the status", "connection refused", "showing the report of"} {
		if !strings.Contains(page.Error, want) {
			t.Errorf("error banner %q does not say %q", page.Error, want)
		}
	}
	if len(page.Flows) != 2 || len(page.Flows[0].Topics) != 3 {
		t.Errorf("the last report is no longer shown: %+v", page.Flows)
	}
}
