package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/status"
)

func testReport() status.Report {
	rate := 12.5
	return status.Report{
		Time: time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC),
		Flows: []status.Flow{{
			Name: "source->target", Source: "source", Target: "target",
			Topics: []status.Topic{{Topic: "app1-t1", Target: "app1-t1", LagRecords: 7, LagSeconds: 1.5, RecordsPerSecond: &rate, Copied: 100}},
			Groups: []status.Group{{Group: "app1-g", Verdict: status.VerdictReady, Reasons: []string{}}},
			Errors: []string{},
		}},
	}
}

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "kmirror_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Add(3)

	ok := httpapi.Options{
		Status:   func(context.Context) (status.Report, error) { return testReport(), nil },
		Ready:    func() (bool, string) { return true, "" },
		Gatherer: reg,
	}
	notReady := ok
	notReady.Ready = func() (bool, string) { return false, "task 2 of source->target is not copying" }
	withHistory := ok
	withHistory.History = func() status.LagHistory {
		h := status.NewHistory()
		h.Add(status.Report{Time: time.Now(), Flows: []status.Flow{{Name: "source->target", Topics: []status.Topic{{Topic: "orders", LagRecords: 42}}}}})
		return h.Snapshot()
	}
	failing := ok
	failing.Status = func(context.Context) (status.Report, error) {
		return status.Report{}, errors.New("describe groups on source: broker down")
	}

	tests := []struct {
		name        string
		opts        httpapi.Options
		method      string
		path        string
		wantCode    int
		wantType    string // Content-Type prefix
		wantBody    string // substring
		wantNoBody  bool
		wantHeaders map[string]string
	}{
		{name: "healthz", opts: ok, method: "GET", path: "/healthz", wantCode: 200, wantType: "text/plain", wantBody: "ok"},
		{name: "healthz head", opts: ok, method: "HEAD", path: "/healthz", wantCode: 200, wantType: "text/plain", wantNoBody: true},
		{name: "healthz without options", method: "GET", path: "/healthz", wantCode: 200, wantBody: "ok"},
		{name: "readyz ready", opts: ok, method: "GET", path: "/readyz", wantCode: 200, wantType: "text/plain", wantBody: "ready"},
		{name: "readyz not ready", opts: notReady, method: "GET", path: "/readyz", wantCode: 503, wantType: "text/plain", wantBody: "not ready: task 2 of source->target is not copying"},
		{name: "readyz without a check", method: "GET", path: "/readyz", wantCode: 200, wantBody: "ready"},
		{name: "status", opts: ok, method: "GET", path: "/api/v1/status", wantCode: 200, wantType: "application/json", wantBody: `"lagRecords": 7`,
			wantHeaders: map[string]string{"Cache-Control": "no-store"}},
		{name: "status head", opts: ok, method: "HEAD", path: "/api/v1/status", wantCode: 200, wantType: "application/json", wantNoBody: true},
		{name: "status error", opts: failing, method: "GET", path: "/api/v1/status", wantCode: 503, wantType: "application/json",
			wantBody: `"error": "read status: describe groups on source: broker down"`},
		{name: "status unavailable", method: "GET", path: "/api/v1/status", wantCode: 503, wantType: "application/json", wantBody: `"error"`},
		{name: "history", opts: withHistory, method: "GET", path: "/api/v1/history", wantCode: 200, wantType: "application/json", wantBody: `"lagRecords": 42`},
		{name: "history without one", method: "GET", path: "/api/v1/history", wantCode: 200, wantType: "application/json", wantBody: `"stepSeconds": 30`},
		{name: "post history", opts: ok, method: "POST", path: "/api/v1/history", wantCode: 405, wantHeaders: map[string]string{"Allow": "GET, HEAD"}},
		{name: "metrics", opts: ok, method: "GET", path: "/metrics", wantCode: 200, wantType: "text/plain", wantBody: "kmirror_test_total 3"},
		{name: "metrics without a gatherer", method: "GET", path: "/metrics", wantCode: 200},
		{name: "page", opts: ok, method: "GET", path: "/", wantCode: 200, wantType: "text/html", wantBody: `<main id="app"`,
			wantHeaders: map[string]string{
				"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
				"X-Content-Type-Options":  "nosniff",
			}},
		{name: "page head", opts: ok, method: "HEAD", path: "/", wantCode: 200, wantType: "text/html", wantNoBody: true},
		{name: "script", opts: ok, method: "GET", path: "/app.js", wantCode: 200, wantType: "text/javascript", wantBody: "api/v1/status"},
		{name: "style", opts: ok, method: "GET", path: "/style.css", wantCode: 200, wantType: "text/css", wantBody: ".badge-ready"},
		{name: "unknown path", opts: ok, method: "GET", path: "/nope", wantCode: 404},
		{name: "embedded file by its own name", opts: ok, method: "GET", path: "/ui/index.html", wantCode: 404},
		{name: "index by name", opts: ok, method: "GET", path: "/index.html", wantCode: 404},
		{name: "status subpath", opts: ok, method: "GET", path: "/api/v1/status/x", wantCode: 404},
		{name: "post status", opts: ok, method: "POST", path: "/api/v1/status", wantCode: 405, wantHeaders: map[string]string{"Allow": "GET, HEAD"}},
		{name: "put metrics", opts: ok, method: "PUT", path: "/metrics", wantCode: 405},
		{name: "delete page", opts: ok, method: "DELETE", path: "/", wantCode: 405},
		{name: "post healthz", opts: ok, method: "POST", path: "/healthz", wantCode: 405},
		{name: "options readyz", opts: ok, method: "OPTIONS", path: "/readyz", wantCode: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(httpapi.Handler(tc.opts))
			t.Cleanup(srv.Close)
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.wantCode {
				t.Errorf("status = %d, want %d (body %q)", res.StatusCode, tc.wantCode, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type = %q, want %q…", ct, tc.wantType)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body does not contain %q:\n%s", tc.wantBody, body)
			}
			if tc.wantNoBody && len(body) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
			for k, want := range tc.wantHeaders {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestStatusJSON checks that /api/v1/status serves the report as its JSON
// contract, unchanged, and that Status gets a bounded context.
func TestStatusJSON(t *testing.T) {
	want := testReport()
	var hadDeadline bool
	srv := httptest.NewServer(httpapi.Handler(httpapi.Options{Status: func(ctx context.Context) (status.Report, error) {
		_, hadDeadline = ctx.Deadline()
		return want, nil
	}}))
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got status.Report
	dec := json.NewDecoder(res.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report = %+v, want %+v", got, want)
	}
	if !hadDeadline {
		t.Error("Status was called without a deadline")
	}
}
