package status_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// A partition the worker stopped (the source's retention deleted records
// before they were copied, retention.overtaken.policy=stop) shows as
// stopped, with the reason: in a running worker's report (what the API
// and the page serve) and in the status read from the clusters.
func TestStoppedPartitionIsReported(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	produce := func(n int) { produceValues(t, src, "app-a", n, func(int) int32 { return 0 }) }
	produce(100)
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"`)
	log := testbed.Logger(t)
	_, stop := runApp(t, cfg)
	testbed.WaitFor(t, 30*time.Second, "the first 100 records copied", func() bool { return tgt.EndOffsets(t, "source.app-a")[0] == 100 })
	stop()
	// While no worker runs, 100 more records come, and retention deletes
	// 50 of them before they are copied.
	produce(100)
	if err := src.DeleteRecords("app-a", 0, 150); err != nil {
		t.Fatal(err)
	}
	want := "the source deleted offsets 100 to 149 before they were copied"
	stoppedIn := func(r status.Report) error {
		for _, tp := range r.Flows[0].Topics {
			for _, p := range tp.Partitions {
				if p.Partition == 0 && strings.Contains(p.Stopped, want) {
					return nil
				}
			}
		}
		return fmt.Errorf("app-a[0] not reported stopped: %+v", r.Flows[0].Topics)
	}

	c, err := status.New(cfg, log, status.Options{Partitions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := stoppedIn(c.Collect(t.Context())); err != nil {
		t.Errorf("read from the clusters: %v", err)
	}

	a, _ := runApp(t, cfg)
	testbed.WaitUntil(t, 30*time.Second, "the worker's report of the stopped partition", func() error {
		r, ok := a.Report()
		if !ok || len(r.Flows) == 0 {
			return fmt.Errorf("no report yet")
		}
		return stoppedIn(r)
	})
}
