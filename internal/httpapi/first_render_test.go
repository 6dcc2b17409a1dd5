package httpapi_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/httpapi/browsertest"
	"github.com/kmirror/kmirror/internal/status"
)

// get fetches path from h with a plain HTTP GET: what a reader without
// JavaScript, or a screenshot taken before the first poll, sees.
func get(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
	}
	return string(b)
}

// TestPageFirstRenderWithoutJavaScript: the page as served holds the
// report's flows, topics with their step and copied, and groups with
// their verdict, escaped; without a report it says it waits for one.
func TestPageFirstRenderWithoutJavaScript(t *testing.T) {
	rep := migratingReport(time.Now())
	rep.Flows[0].Topics[1].Copied = 4000
	rep.Flows[0].Groups = append(rep.Flows[0].Groups, status.Group{Group: xssGroup, Verdict: status.VerdictNotReady})
	tests := []struct {
		name      string
		report    func(context.Context) (status.Report, error)
		want, not []string
	}{
		{
			name:   "a report",
			report: func(context.Context) (status.Report, error) { return rep, nil },
			want: []string{`data-first-render="source-&gt;target"`, "caught-up",
				`<tr data-topic="app1-t1"><td>app1-t1</td><td>app1-t1</td><td>consumers-switched</td>`,
				`<tr data-topic="app0-t1"><td>app0-t1</td><td>app0-t1</td><td>done</td><td class="num">0</td><td class="num">4000</td>`,
				`<td>app1-g</td><td>switched</td><td>consumers-switched</td>`,
				`<td>app2-&lt;img src=x onerror=&#34;document.title=&#39;xss&#39;&#34;&gt;</td><td>not-ready</td>`},
			not: []string{"<img", "waiting for the first report"},
		},
		{
			name:   "no report",
			report: func(context.Context) (status.Report, error) { return status.Report{}, errors.New("not yet") },
			want:   []string{"waiting for the first report…", `<div id="flows">`},
			not:    []string{"data-first-render"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := get(t, httpapi.Handler(httpapi.Options{Status: tc.report}), "/")
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %s:\n%s", w, page)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(page, n) {
					t.Errorf("the page holds %s:\n%s", n, page)
				}
			}
		})
	}
}

// TestPageSaysAllFinished: when every topic and group of a flow finished
// its migration, the topics and groups tables say so, not that nothing
// is mirrored, and each finished topic's row keeps the records it copied.
func TestPageSaysAllFinished(t *testing.T) {
	browsertest.Chromium(t)
	rep := migratingReport(time.Now())
	f := &rep.Flows[0]
	f.Topics = f.Topics[1:]                  // app0-t1, done
	f.Topics = append(f.Topics, f.Topics[0]) // and another
	f.Topics[1].Topic, f.Topics[1].Target, f.Topics[1].Copied = "app0-t2", "app0-t2", 7
	f.Groups = f.Groups[1:] // app0-g, done
	url := browsertest.StartServer(t, httpapi.Handler(httpapi.Options{
		Status: func(context.Context) (status.Report, error) { return rep, nil },
	}))
	dom := browsertest.LoadPage(t, url)
	page := browsertest.Read(t, dom)
	if page.State != "ok" || len(page.Flows) != 1 {
		t.Fatalf("page state %q, %d flows", page.State, len(page.Flows))
	}
	copied := map[string]int64{}
	for _, a := range page.Flows[0].Apps {
		if a.Kind == "topic" && a.Copied != nil {
			copied[a.Name] = *a.Copied
		}
	}
	if want := map[string]int64{"app0-t1": 4000, "app0-t2": 7}; !maps.Equal(copied, want) {
		t.Errorf("finished topics show %v records copied, want %v", copied, want)
	}
	for _, w := range []string{`All 2 topics finished their migration: listed under "Finished" above.`, `The one group finished its migration: listed under "Finished" above.`} {
		if !strings.Contains(strings.ReplaceAll(dom, "&quot;", `"`), w) {
			t.Errorf("the page does not say %q", w)
		}
	}
	if strings.Contains(dom, "No topic mirrored") {
		t.Errorf("the page says no topic is mirrored")
	}
}
