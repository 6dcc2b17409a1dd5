package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/httpapi/browsertest"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// phases is where each topic and group stands in the migration, keyed
// "topic NAME" or "group NAME".
type phases map[string]string

// steps is the step of each topic and group a status report shows.
func steps(r status.Report) map[string]status.Step {
	out := map[string]status.Step{}
	for _, f := range r.Flows {
		for _, tp := range f.Topics {
			if tp.Step != nil {
				out["topic "+tp.Topic] = *tp.Step
			}
		}
		for _, g := range f.Groups {
			if g.Step != nil {
				out["group "+g.Group] = *g.Step
			}
		}
	}
	return out
}

func phasesOf(s map[string]status.Step) phases {
	out := phases{}
	for k, st := range s {
		out[k] = st.Phase
	}
	return out
}

// storyWatch checks the migration's phases after each step through every
// way an operator sees them: `kmirror status --json`, /api/v1/status of
// the running worker, and the status page in headless Chromium, whose
// screenshot (of the page checked) it keeps as an artifact.
type storyWatch struct {
	config string
	run    *proc
	shots  int
}

// serving is the base URL of the status page run logged.
func serving(t *testing.T, run *proc) string {
	t.Helper()
	line := run.waitFor(t, `"serving HTTP"`, 30*time.Second)
	m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no address in %q", line)
	}
	return "http://" + m[1] + "/"
}

// check waits until all three show want, and returns the steps the API
// showed.
func (w *storyWatch) check(t *testing.T, step string, want phases) map[string]status.Step {
	t.Helper()
	url := serving(t, w.run)
	var api map[string]status.Step
	testbed.WaitUntil(t, time.Minute, step+": /api/v1/status to show the phases", func() error {
		r, err := getReport(url + "api/v1/status")
		if err != nil {
			return err
		}
		api = steps(r)
		return samePhases(phasesOf(api), want)
	})
	testbed.WaitUntil(t, time.Minute, step+": kmirror status --json to show the phases", func() error {
		code, out := runs(t, time.Minute, "status", "-c", w.config, "--json", "--log-level", "error")
		var r status.Report
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
			return fmt.Errorf("exit %d, %v:\n%s", code, err, out)
		}
		return samePhases(phasesOf(steps(r)), want)
	})
	browsertest.Chromium(t)
	w.shots++
	shot := filepath.Join(browsertest.ArtifactDir(t), fmt.Sprintf("migration-%d-%s.png", w.shots, step))
	testbed.WaitUntil(t, time.Minute, step+": the status page to show the phases", func() error {
		page, err := browsertest.ReadPage(browsertest.LoadPageAndScreenshot(t, url, shot))
		if err != nil {
			return err
		}
		got := phases{}
		for _, f := range page.Flows {
			for _, a := range f.Apps {
				got[a.Kind+" "+a.Name] = a.Phase
				if finished := a.Phase == "done"; a.Finished != finished {
					return fmt.Errorf("%s %s in phase %s is shown finished=%v", a.Kind, a.Name, a.Phase, a.Finished)
				}
			}
		}
		return samePhases(got, want)
	})
	t.Logf("%s: %v; screenshot %s", step, want, shot)
	return api
}

func samePhases(got, want phases) error {
	if !maps.Equal(got, want) {
		keys := slices.Sorted(maps.Keys(want))
		return fmt.Errorf("phases %v, want %v (%s)", got, want, strings.Join(keys, ", "))
	}
	return nil
}

func getReport(url string) (status.Report, error) {
	var r status.Report
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(url)
	if err != nil {
		return r, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return r, err
	}
	if res.StatusCode != http.StatusOK {
		return r, fmt.Errorf("%s: %s %s", url, res.Status, body)
	}
	return r, json.Unmarshal(body, &r)
}

// waitPhase waits until `kmirror status --json` of config shows the topic
// or group key ("topic NAME", "group NAME") in phase, with the recorded
// events kinds among its steps.
func waitPhase(t *testing.T, config, key, phase string, kinds ...string) {
	t.Helper()
	testbed.WaitUntil(t, 2*time.Minute, fmt.Sprintf("status --json to show %s %s", key, phase), func() error {
		code, out := runs(t, time.Minute, "status", "-c", config, "--json", "--log-level", "error")
		var r status.Report
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
			return fmt.Errorf("exit %d, %v:\n%s", code, err, out)
		}
		st, ok := steps(r)[key]
		if !ok || st.Phase != phase {
			return fmt.Errorf("%s: %+v", key, st)
		}
		var recorded []string
		for _, e := range st.Timeline {
			recorded = append(recorded, e.Event)
		}
		for _, k := range kinds {
			if !slices.Contains(recorded, k) {
				return fmt.Errorf("%s: no %s among the steps %v", key, k, recorded)
			}
		}
		return nil
	})
}

// TestDemoPageShowsTheFinishedMigration: once `kmirror demo
// --keep-running` has walked the migration, its status page tells every
// topic and group as done, folded under "Finished", each topic with the
// records it copied (as the status API has them); the topics table says
// they all finished, not that no topic is mirrored.
func TestDemoPageShowsTheFinishedMigration(t *testing.T) {
	browsertest.Chromium(t)
	demo := start(t, "demo", "--keep-running", "--http", "127.0.0.1:0", "--records", "2000")
	line := demo.waitFor(t, "status page: http://", 30*time.Second)
	url := line[strings.Index(line, "http://"):]
	demo.waitFor(t, "still running (--keep-running)", 2*time.Minute)

	rep, err := getReport(url + "api/v1/status")
	if err != nil || len(rep.Flows) != 1 {
		t.Fatalf("the demo's status: %v %+v", err, rep)
	}
	copied := map[string]int64{}
	for _, tp := range rep.Flows[0].Topics {
		copied[tp.Topic] = tp.Copied
	}

	dom := browsertest.LoadPage(t, url)
	page, err := browsertest.ReadPage(dom)
	if err != nil || len(page.Flows) != 1 {
		t.Fatalf("the demo's page: %v %+v", err, page)
	}
	counts := map[string]int{}
	for _, a := range page.Flows[0].Apps {
		if a.Phase != "done" || !a.Finished || len(a.Timeline) == 0 {
			t.Errorf("%s %s: %+v, want done, finished, with its steps", a.Kind, a.Name, a)
		}
		if a.Kind == "topic" && (a.Copied == nil || *a.Copied == 0 || *a.Copied != copied[a.Name]) {
			t.Errorf("topic %s: the page shows %v records copied, the status API %d", a.Name, a.Copied, copied[a.Name])
		}
		counts[a.Kind]++
	}
	if counts["topic"] != 5 || counts["group"] != 2 {
		t.Errorf("the page lists %v, want the demo's 5 topics and 2 groups", counts)
	}
	if !strings.Contains(dom, "All 5 topics finished their migration") || strings.Contains(dom, "No topic mirrored") {
		t.Errorf("the topics table does not say all 5 topics finished:\n%s", dom)
	}
	if strings.Contains(dom, "no progress yet") || !strings.Contains(dom, "nothing left to copy: every topic finished") {
		t.Errorf("the workers line does not say every topic finished:\n%s", dom)
	}
	// #finished unfolds the finished ones, for the screenshot.
	shot := filepath.Join(browsertest.ArtifactDir(t), "demo-finished.png")
	browsertest.Screenshot(t, url+"#finished", shot)
	t.Logf("screenshot: %s", shot)
	if err := demo.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := demo.exit(t, 30*time.Second); code != 0 {
		t.Errorf("demo: exit %d after SIGINT:\n%s", code, demo.output())
	}
}
