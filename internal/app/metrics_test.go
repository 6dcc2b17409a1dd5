package app

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/deploy"
	"github.com/kmirror/kmirror/internal/batch/batchtest"
	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/httpapi/browsertest"
	"github.com/kmirror/kmirror/internal/testbed"
)

// scrape reads a Prometheus text exposition: each sample by its name and
// labels as written, e.g. `kmirror_tasks_assigned{source="a",target="b"}`.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// The metrics move with the records: copied counts rise, the lag rises
// while the target does not acknowledge (the mirror is held) and falls to
// 0 after, heartbeats and group syncs are counted.
func TestMetricsFollowTheCopy(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: "app-a", Partition: int32(i % 2), Value: fmt.Appendf(nil, "value-%04d", i)})
		}
		src.Produce(t, recs)
	}
	produce(0, 20)
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: 4, LeaderEpoch: -1})
	if _, err := kadm.NewClient(src.Client(t)).CommitOffsets(context.Background(), "app-g", o); err != nil {
		t.Fatal(err)
	}

	// Holding the target's produce requests holds the mirror.
	var held atomic.Bool
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	tgt.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		tgt.KeepControl()
		if held.Load() {
			tgt.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})

	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`)
	a := New(cfg, slog.New(slog.DiscardHandler), Options{Version: "1.2.3", MetricsPartitions: true})
	srv := httptest.NewServer(promhttp.HandlerFor(a.Gatherer(), promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	// The status page of the same worker, in a real browser.
	chromium := os.Getenv("CI") == "true"
	if _, err := os.Stat(browsertest.ChromiumPath); err == nil {
		chromium = true
	}
	if !chromium {
		t.Log("no chromium (apt-get install chromium): the status page is not checked; CI requires it")
	}
	page := browsertest.StartServer(t, httpapi.Handler(a.HTTP()))
	topicRow := func(what string, ok func(browsertest.Topic) bool) browsertest.Page {
		t.Helper()
		var p browsertest.Page
		testbed.WaitFor(t, 60*time.Second, "the status page to show "+what, func() bool {
			p = browsertest.Read(t, browsertest.LoadPage(t, page))
			return p.State == "ok" && len(p.Flows) == 1 && len(p.Flows[0].Topics) == 1 && ok(p.Flows[0].Topics[0])
		})
		return p
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		releaseOnce.Do(func() { close(release) })
		cancel()
		<-done
	})

	const (
		copied     = `kmirror_records_copied_total{source="source",target="target",topic="app-a"}`
		copiedB    = `kmirror_bytes_copied_total{source="source",target="target",topic="app-a"}`
		lag        = `kmirror_replication_lag_records{source="source",target="target",topic="app-a"}`
		lagP0      = `kmirror_replication_lag_records{partition="0",source="source",target="target",topic="app-a"}`
		lagSeconds = `kmirror_replication_lag_seconds{source="source",target="target",topic="app-a"}`
		latency    = `kmirror_replication_latency_seconds_count{source="source",target="target"}`
		heartbeat  = `kmirror_heartbeat_last_success_timestamp_seconds{source="source",target="target"}`
		syncs      = `kmirror_group_offset_syncs_total{group="app-g",source="source",target="target"}`
		ready      = `kmirror_group_switch_ready{group="app-g",source="source",target="target"}`
		tasks      = `kmirror_tasks_assigned{source="source",target="target"}`
		segments   = `kmirror_offset_map_segments{source="source",target="target",topic="app-a"}`
	)
	var m map[string]float64
	testbed.WaitFor(t, 30*time.Second, "20 records copied, no lag, a heartbeat and a group sync", func() bool {
		m = scrape(t, srv.URL)
		_, hasLag := m[lag]
		return m[copied] == 20 && hasLag && m[lag] == 0 && m[lagP0] == 0 && m[heartbeat] > 0 && m[syncs] >= 1 && m[ready] == 1
	})
	if chromium {
		p := topicRow("app-a caught up", func(tp browsertest.Topic) bool { return tp.LagRecords == 0 && tp.Copied == 20 })
		if g := p.Flows[0].Groups; len(g) != 1 || g[0].Group != "app-g" || g[0].Verdict != "ready" {
			t.Errorf("groups on the page: %+v", g)
		}
	}
	// The bytes copied are the records sections of the batches written.
	written := 0
	for p := range src.EndOffsets(t, "app-a") {
		for _, b := range batchtest.Read(t, &tgt.Brokers, "source.app-a", p) {
			written += len(b.Section())
		}
	}
	if m[copiedB] != float64(written) || m[latency] != 20 || m[tasks] < 1 || m[segments] < 1 {
		t.Errorf("bytes %v (the target's batches hold %d), latency count %v, tasks %v, segments %v", m[copiedB], written, m[latency], m[tasks], m[segments])
	}
	found := false
	for k := range m {
		if strings.HasPrefix(k, `kmirror_build_info{commit="unknown",go_version="go`) && strings.HasSuffix(k, `version="1.2.3"}`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no kmirror_build_info with version 1.2.3")
	}

	// Hold the mirror: the lag rises, in records and in seconds.
	held.Store(true)
	produce(20, 30)
	testbed.WaitFor(t, 30*time.Second, "the lag to show the 30 new records", func() bool {
		m = scrape(t, srv.URL)
		return m[lag] == 30 && m[lagSeconds] > 0
	})
	if chromium {
		topicRow("the lag of the held mirror", func(tp browsertest.Topic) bool {
			return tp.LagRecords == 30 && tp.LagSeconds > 0 && tp.LagBarPercent > 0
		})
	}
	before := m[lagSeconds]
	testbed.WaitFor(t, 30*time.Second, "the lag in seconds to grow while held", func() bool {
		m = scrape(t, srv.URL)
		return m[lagSeconds] > before && m[copied] == 20
	})

	// What the worker serves is what the dashboard and the alert rules
	// expect: the same names, types and labels.
	families, err := a.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]*dto.MetricFamily{}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "kmirror_") {
			served[f.GetName()] = f
		}
	}
	for _, want := range deploy.Metrics {
		f, ok := served[want.Name]
		if !ok {
			t.Errorf("%s is in deploy.Metrics but not served", want.Name)
			continue
		}
		delete(served, want.Name)
		if got := strings.ToLower(f.GetType().String()); got != want.Type {
			t.Errorf("%s is a %s, deploy.Metrics says %s", want.Name, got, want.Type)
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(want.Labels, l.GetName()) {
					t.Errorf("%s has label %q, not in deploy.Metrics", want.Name, l.GetName())
				}
			}
		}
	}
	for name := range served {
		t.Errorf("%s is served but not in deploy.Metrics (nor on the dashboard)", name)
	}

	// Release: the lag falls to 0 and every record is counted.
	held.Store(false)
	releaseOnce.Do(func() { close(release) })
	testbed.WaitFor(t, 30*time.Second, "the lag back to 0", func() bool {
		m = scrape(t, srv.URL)
		return m[lag] == 0 && m[lagSeconds] == 0 && m[copied] == 50
	})
	if chromium {
		topicRow("the lag back to 0", func(tp browsertest.Topic) bool { return tp.LagRecords == 0 && tp.Copied == 50 })
		shot := filepath.Join(browsertest.ArtifactDir(t), "status-page-live.png")
		browsertest.Screenshot(t, page, shot)
		t.Logf("screenshot of the live status page: %s", shot)
	}
}
