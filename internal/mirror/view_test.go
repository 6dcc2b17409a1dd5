package mirror

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// What the workers persisted is readable through a flow before it runs
// (the status may ask while it starts), while it runs (from its cache) and
// after it stopped.
func TestSavedBeforeDuringAndAfterARun(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, []*kgo.Record{{Topic: "app-a", Value: []byte("a")}, {Topic: "app-a", Value: []byte("b")}})
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"`)
	a := progress.Partition{Topic: "app-a"}
	next := func(fl *Flow) int64 {
		t.Helper()
		s, err := fl.Saved(t.Context())
		if err != nil {
			t.Fatalf("Saved: %v", err)
		}
		if sp, ok := s[a]; ok {
			return sp.Map.End().Source
		}
		return -1
	}
	r := start(t, cfg)
	testbed.WaitFor(t, 30*time.Second, "both records persisted, as the running flow's cache reads them", func() bool { return next(r.flow) == 2 })
	r.stop(t)
	if got := next(r.flow); got != 2 {
		t.Errorf("after the run: next %d, want 2", got)
	}
	f := cfg.Flows[0]
	if got := next(NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), nil, testbed.Logger(t))); got != 2 {
		t.Errorf("before a run: next %d, want 2", got)
	}
}
