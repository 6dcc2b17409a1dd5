package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/status"
)

// manyGroups is a flow of n topics and n groups; group i is not ready
// when i is odd.
func manyGroups(n int) status.Report {
	f := status.Flow{Name: "source->target", Source: "source", Target: "target", State: status.StateCopying, Errors: []string{}}
	for i := range n {
		name := fmt.Sprintf("t%05d", i)
		f.Topics = append(f.Topics, status.Topic{Topic: name, Target: name, LagRecords: int64(i), Partitions: []status.Partition{{Partition: 0}}})
		g := status.Group{Group: fmt.Sprintf("g%05d", i), Verdict: status.VerdictReady, Reasons: []string{},
			Partitions: []status.GroupPartition{{Topic: name, TargetTopic: name, State: status.StateInSync}}}
		if i%2 == 1 {
			g.Verdict, g.Reasons = status.VerdictNotReady, []string{name + "[0]: committed offset 9 is not mirrored yet"}
		}
		f.Groups = append(f.Groups, g)
	}
	return status.Report{Time: time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC), Flows: []status.Flow{f}}
}

// fetch GETs path with the headers given and returns the answer and its
// body as sent (compressed or not).
func fetch(t *testing.T, h http.Handler, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// A Transport that adds no Accept-Encoding and decompresses nothing.
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGzip: the API and the page's files are gzip-compressed for a
// client that accepts it, and the same bytes as the plain answer once
// decompressed; /metrics too (promhttp's own compression).
func TestGzip(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "kmirror_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	rep := manyGroups(200)
	h := httpapi.Handler(httpapi.Options{
		Status:   func(context.Context) (status.Report, error) { return rep, nil },
		Gatherer: reg,
	})
	for _, path := range []string{"/api/v1/status", "/api/v1/status?group=g00003", "/api/v1/status/summary", "/api/v1/history", "/", "/app.js", "/style.css", "/metrics"} {
		for _, accept := range []string{"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "*"} {
			if path == "/metrics" && accept == "*" {
				continue // promhttp offers gzip to a client that names it
			}
			t.Run(path+" "+accept, func(t *testing.T) {
				plainRes, plain := fetch(t, h, path, nil)
				res, body := fetch(t, h, path, map[string]string{"Accept-Encoding": accept})
				if res.StatusCode != 200 || plainRes.StatusCode != 200 {
					t.Fatalf("status %d, plain %d", res.StatusCode, plainRes.StatusCode)
				}
				if ce := res.Header.Get("Content-Encoding"); ce != "gzip" {
					t.Fatalf("Content-Encoding %q, want gzip", ce)
				}
				if ce := plainRes.Header.Get("Content-Encoding"); ce != "" {
					t.Errorf("without Accept-Encoding: Content-Encoding %q", ce)
				}
				if !slices.Contains(res.Header.Values("Vary"), "Accept-Encoding") {
					t.Errorf("Vary %q lacks Accept-Encoding", res.Header.Values("Vary"))
				}
				if res.Header.Get("Content-Type") != plainRes.Header.Get("Content-Type") {
					t.Errorf("Content-Type %q, plain %q", res.Header.Get("Content-Type"), plainRes.Header.Get("Content-Type"))
				}
				got := gunzip(t, body)
				if path == "/api/v1/status/summary" || path == "/api/v1/history" || path == "/" {
					// Each answer has its own time: compare all but it.
					if strings.Count(string(got), "\n") != strings.Count(string(plain), "\n") || !bytes.HasPrefix(got, plain[:16]) {
						t.Errorf("decompressed answer differs from the plain one:\n%.300s\n%.300s", got, plain)
					}
				} else if !bytes.Equal(got, plain) {
					t.Errorf("decompressed answer differs from the plain one:\n%.300s\n%.300s", got, plain)
				}
				if path == "/api/v1/status" && len(body)*5 > len(plain) {
					t.Errorf("compressed %d bytes of %d: less than 5×", len(body), len(plain))
				}
			})
		}
	}
	for _, accept := range []string{"gzip;q=0", "identity", "deflate"} {
		t.Run("refused "+accept, func(t *testing.T) {
			res, body := fetch(t, h, "/api/v1/status", map[string]string{"Accept-Encoding": accept})
			if res.Header.Get("Content-Encoding") != "" || !json.Valid(body) {
				t.Errorf("Content-Encoding %q for %q", res.Header.Get("Content-Encoding"), accept)
			}
		})
	}
}

// TestStatusQueries: the parameters of /api/v1/status, and a 400 that
// names the parameter when one is wrong.
func TestStatusQueries(t *testing.T) {
	rep := manyGroups(120)
	h := httpapi.Handler(httpapi.Options{Status: func(context.Context) (status.Report, error) { return rep, nil }})
	tests := []struct {
		query          string
		topics, groups []string
		page           *status.PageInfo
	}{
		{query: "", topics: all(rep.Flows[0].Topics, func(t status.Topic) string { return t.Topic }),
			groups: all(rep.Flows[0].Groups, func(g status.Group) string { return g.Group })},
		{query: "topic=t00007&topic=t00100", topics: []string{"t00007", "t00100"}, page: &status.PageInfo{Topics: 2}},
		{query: "group=g00002", groups: []string{"g00002"}, page: &status.PageInfo{Groups: 1}},
		{query: "search=G0001&verdict=not-ready", groups: []string{"g00011", "g00013", "g00015", "g00017", "g00019"}, page: &status.PageInfo{Groups: 5}},
		{query: "verdict=not-ready&offset=10&limit=2", groups: []string{"g00021", "g00023"}, page: &status.PageInfo{Offset: 10, Limit: 2, Groups: 60}},
		{query: "lagging=1&limit=2", topics: []string{"t00001", "t00002"}, page: &status.PageInfo{Limit: 2, Topics: 119}},
		{query: "phase=mirroring&offset=118&limit=5", topics: []string{"t00118", "t00119"}, groups: []string{"g00118", "g00119"},
			page: &status.PageInfo{Offset: 118, Limit: 5, Topics: 120, Groups: 120}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			res, body := fetch(t, h, "/api/v1/status?"+tc.query, nil)
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			var got status.Report
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			f := got.Flows[0]
			topics := all(f.Topics, func(t status.Topic) string { return t.Topic })
			groups := all(f.Groups, func(g status.Group) string { return g.Group })
			if !slices.Equal(topics, tc.topics) || !slices.Equal(groups, tc.groups) {
				t.Errorf("topics %v, groups %v; want %v, %v", topics, groups, tc.topics, tc.groups)
			}
			if (f.Page == nil) != (tc.page == nil) || f.Page != nil && *f.Page != *tc.page {
				t.Errorf("page %+v, want %+v", f.Page, tc.page)
			}
		})
	}

	bad := []struct{ query, want string }{
		{"limit=abc", `parameter "limit": "abc" is not an integer from 1 to 1000`},
		{"limit=0", `parameter "limit": "0" is not an integer from 1 to 1000`},
		{"limit=5000", `parameter "limit": "5000" is not an integer`},
		{"offset=-1", `parameter "offset": "-1" is not an integer`},
		{"offset=1&offset=2", `parameter "offset" is given 2 times`},
		{"verdict=maybe", `parameter "verdict": "maybe" is no verdict (ready, not-ready, switched)`},
		{"phase=started", `parameter "phase": "started" is no phase (mirroring, consumers-ready`},
		{"lagging=yes", `parameter "lagging": "yes" is not true or false`},
		{"topic=", `parameter "topic" is empty`},
		{"page=2", `unknown parameter "page": this endpoint takes topic, group, search, phase, verdict, lagging, offset, limit`},
		{"search=a&search=b", `parameter "search" is given 2 times`},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.query, func(t *testing.T) {
			res, body := fetch(t, h, "/api/v1/status?"+tc.query, nil)
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 400 || !strings.Contains(e.Error, tc.want) {
				t.Errorf("%d %q, want 400 with %q", res.StatusCode, e.Error, tc.want)
			}
		})
	}
}

func all[T any](s []T, name func(T) string) []string {
	var out []string
	for _, x := range s {
		out = append(out, name(x))
	}
	return out
}

// TestSummaryEndpoint: /api/v1/status/summary at 10 000 groups is a few
// KB, and names the worst; ?worst= bounds its lists.
func TestSummaryEndpoint(t *testing.T) {
	rep := manyGroups(10_000)
	h := httpapi.Handler(httpapi.Options{Status: func(context.Context) (status.Report, error) { return rep, nil }})
	for _, tc := range []struct {
		query string
		worst int
	}{{"", status.DefaultWorst}, {"?worst=3", 3}, {"?worst=100", 100}} {
		t.Run(tc.query, func(t *testing.T) {
			res, body := fetch(t, h, "/api/v1/status/summary"+tc.query, nil)
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			var s status.Summary
			if err := json.Unmarshal(body, &s); err != nil {
				t.Fatal(err)
			}
			f := s.Flows[0]
			if f.Groups.Total != 10_000 || f.Groups.ByVerdict[status.VerdictNotReady] != 5000 || len(f.NotReady) != tc.worst ||
				len(f.WorstLagRecords) != tc.worst || f.WorstLagRecords[0].Topic != "t09999" {
				t.Errorf("summary %+v", f)
			}
			if tc.query == "" {
				if len(body) > 16<<10 {
					t.Errorf("summary of 10 000 groups is %d bytes", len(body))
				}
				t.Logf("summary of 10 000 topics and 10 000 groups: %d bytes", len(body))
			}
		})
	}
	for _, q := range []string{"?worst=0", "?worst=101", "?topic=x"} {
		t.Run("bad "+q, func(t *testing.T) {
			if res, body := fetch(t, h, "/api/v1/status/summary"+q, nil); res.StatusCode != 400 || !bytes.Contains(body, []byte("parameter")) {
				t.Errorf("%d %s", res.StatusCode, body)
			}
		})
	}
}

// TestHistoryOfSomeTopics: ?topic= keeps the history of those topics.
func TestHistoryOfSomeTopics(t *testing.T) {
	hist := status.NewHistory()
	hist.Add(manyGroups(5))
	h := httpapi.Handler(httpapi.Options{History: hist.Snapshot})
	_, body := fetch(t, h, "/api/v1/history?topic=t00001&topic=t00003", nil)
	var got status.LagHistory
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if topics := all(got.Flows[0].Topics, func(t status.TopicHistory) string { return t.Topic }); !slices.Equal(topics, []string{"t00001", "t00003"}) {
		t.Errorf("history of %v", topics)
	}
	if res, _ := fetch(t, h, "/api/v1/history?flow=x", nil); res.StatusCode != 400 {
		t.Errorf("unknown parameter: %d", res.StatusCode)
	}
}

// TestFirstRenderIsBounded: the page as served lists at most
// FirstRenderRows topics and groups of a flow, and counts the rest.
func TestFirstRenderIsBounded(t *testing.T) {
	rep := manyGroups(10_000)
	page := get(t, httpapi.Handler(httpapi.Options{Status: func(context.Context) (status.Report, error) { return rep, nil }}), "/")
	if n := strings.Count(page, "<tr data-group="); n != httpapi.FirstRenderRows {
		t.Errorf("%d group rows", n)
	}
	for _, want := range []string{"and 9950 more topics", "and 9950 more groups"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	if len(page) > 64<<10 {
		t.Errorf("the page is %d bytes", len(page))
	}
}
