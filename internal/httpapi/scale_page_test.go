package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/httpapi/browsertest"
	"github.com/kmirror/kmirror/internal/status"
)

// sizes records the largest answer of each path, in bytes as sent.
type sizes struct {
	mu  sync.Mutex
	max map[string]int
}

func (s *sizes) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.max[r.URL.Path] = max(s.max[r.URL.Path], cw.n)
	})
}

type countingWriter struct {
	http.ResponseWriter
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += n
	return n, err
}

// TestPageAtScale: at 10 000 topics and 10 000 groups the page polls the
// summary and one page of 50 topics and 50 groups, each answer tens of KB
// at most; it counts everything, pages, and filters from the URL's
// fragment as from its search box.
func TestPageAtScale(t *testing.T) {
	browsertest.Chromium(t)
	rep := manyGroups(10_000)
	seen := &sizes{max: map[string]int{}}
	url := browsertest.StartServer(t, seen.wrap(httpapi.Handler(httpapi.Options{
		Status: func(context.Context) (status.Report, error) { return rep, nil },
	})))
	group := func(i int) string { return fmt.Sprintf("g%05d", i) }
	tests := []struct {
		name, fragment string
		first, last    string // the first and last group rows
		rows, topics   int
		page, pages    string
	}{
		{name: "everything, first page", fragment: "", first: group(0), last: group(49), rows: 50, topics: 50, page: "1", pages: "200"},
		{name: "not ready, second page", fragment: "#verdict=not-ready&page=2", first: group(101), last: group(199), rows: 50, topics: 0, page: "2", pages: "100"},
		{name: "search, not ready", fragment: "#search=G0001&verdict=not-ready", first: group(11), last: group(19), rows: 5, topics: 0, page: "1", pages: "1"},
		{name: "lagging topics", fragment: "#lagging=1&page=200", rows: 0, topics: 49, page: "200", pages: "200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dom := browsertest.LoadPage(t, url+tc.fragment)
			page := browsertest.Read(t, dom)
			if page.State != "ok" || len(page.Flows) != 1 {
				t.Fatalf("page state %q, %d flows", page.State, len(page.Flows))
			}
			f := page.Flows[0]
			if len(f.Groups) != tc.rows || len(f.Topics) != tc.topics {
				t.Fatalf("%d group rows and %d topic rows, want %d and %d", len(f.Groups), len(f.Topics), tc.rows, tc.topics)
			}
			if tc.rows > 0 && (f.Groups[0].Group != tc.first || f.Groups[len(f.Groups)-1].Group != tc.last) {
				t.Errorf("groups %s … %s, want %s … %s", f.Groups[0].Group, f.Groups[len(f.Groups)-1].Group, tc.first, tc.last)
			}
			doc, err := browsertest.ParseDOM(dom)
			if err != nil {
				t.Fatal(err)
			}
			if ov, ok := doc.Find("data-field", "overview"); !ok || ov.Attrs["data-groups"] != "10000" || ov.Attrs["data-topics"] != "10000" {
				t.Errorf("the overview does not count 10 000 topics and groups")
			}
			if p, ok := doc.Find("id", "pager"); !ok || p.Attrs["data-page"] != tc.page || p.Attrs["data-pages"] != tc.pages {
				t.Errorf("pager %v, want page %s of %s", p.Attrs, tc.page, tc.pages)
			}
			if nr, ok := doc.Find("data-field", "notReady"); !ok || nr.Attrs["data-count"] != "5000" || len(nr.All("data-not-ready", "")) != status.DefaultWorst {
				t.Errorf("the groups not ready are not summed up")
			}
			if !strings.Contains(dom, `10,000 groups`) {
				t.Errorf("the header does not count the groups")
			}
		})
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	for path, n := range seen.max {
		if strings.HasPrefix(path, "/api/") && n > 48<<10 {
			t.Errorf("%s answered %d bytes at 10 000 groups", path, n)
		}
		t.Logf("%s: at most %d bytes", path, n)
	}
}
