package mirror

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
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
	if got := next(NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), nil, testbed.Logger(t), nil)); got != 2 {
		t.Errorf("before a run: next %d, want 2", got)
	}
}

// With two workers, a flow's View(Own) answers for exactly the partitions
// the worker copies — every checkpoint is written by one worker — and
// View(All) for every partition on both, with or without a flow the other
// way under the same names.
func TestViewScopesWithTwoWorkers(t *testing.T) {
	for _, paired := range []bool{false, true} {
		t.Run(map[bool]string{false: "one way", true: "both ways"}[paired], func(t *testing.T) {
			src, tgt := testbed.NewCluster(t), groupTarget(t)
			if err := src.CreateTopic("app-a", 4, nil); err != nil {
				t.Fatal(err)
			}
			src.Produce(t, unique("app-a", 4, 0, 50))
			cfg := testbed.Config(t, src, tgt, workers+"        provenance.header.enabled: true\n")
			f := cfg.Flows[0]
			var back *config.Flow
			if paired {
				// The flow the other way is not run: with provenance
				// headers its copies are told apart without waiting for it.
				b := *f
				b.Source, b.Target = f.Target, f.Source
				back = &b
			}
			w1, w2 := startFlow(t, cfg, back), startFlow(t, cfg, back)
			testbed.WaitFor(t, 30*time.Second, "both workers copy", func() bool {
				a, b := owned(w1.flow), owned(w2.flow)
				return len(a) > 0 && len(b) > 0 && len(a)+len(b) == 4
			})
			copiedAll(t, src, "app-a", 30*time.Second, w1.flow, w2.flow)
			ends := src.EndOffsets(t, "app-a")
			var all []progress.View
			testbed.WaitFor(t, 30*time.Second, "every partition persisted, as View(All) of both workers reads it", func() bool {
				all = []progress.View{w1.flow.View(All), w2.flow.View(All)}
				for p, end := range ends {
					for _, v := range all {
						if c, ok, err := v.Copied(t.Context(), progress.Partition{Topic: "app-a", Partition: p}); err != nil || !ok || c.Next != end {
							return false
						}
					}
				}
				return true
			})
			mine := []map[progress.Partition]bool{owned(w1.flow), owned(w2.flow)}
			for p, end := range ends {
				k := progress.Partition{Topic: "app-a", Partition: p}
				for i, w := range []*running{w1, w2} {
					own := w.flow.View(Own)
					_, copied, _ := own.Copied(t.Context(), k)
					tr, translated, _ := own.Translate(t.Context(), k, end)
					if copied != mine[i][k] || translated != mine[i][k] {
						t.Errorf("worker %d, %v: View(Own) answers (copied %v, translated %v), but the worker copies it: %v", i+1, k, copied, translated, mine[i][k])
					}
					if translated && (tr.Result != offsetmap.Exact || tr.Offset != end || tr.Target != "app-a") {
						t.Errorf("worker %d, %v: View(Own) translates %d to %+v, want %d exactly on app-a", i+1, k, end, tr, end)
					}
					if tr, ok, err := all[i].Translate(t.Context(), k, end); err != nil || !ok || tr.Offset != end {
						t.Errorf("worker %d, %v: View(All) translates %d to %+v (ok %v, %v), want %d", i+1, k, end, tr, ok, err, end)
					}
				}
				if mine[0][k] == mine[1][k] {
					t.Errorf("%v: copied by both workers or neither", k)
				}
			}
		})
	}
}
