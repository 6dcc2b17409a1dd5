package mirror

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

func numbered(topic string, partition int32, from, to int) []*kgo.Record {
	var out []*kgo.Record
	for i := from; i < to; i++ {
		out = append(out, &kgo.Record{Topic: topic, Partition: partition, Value: []byte(fmt.Sprint(i))})
	}
	return out
}

// When the source deletes records before they were copied, kmirror never
// skips them silently: it stops the partition, or skips with the gap
// recorded, as retention.overtaken.policy says, and counts it.
func TestRetentionOvertakesTheMirror(t *testing.T) {
	for _, policy := range []string{"stop", "skip"} {
		t.Run(policy, func(t *testing.T) {
			src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
			for _, name := range []string{"app-a", "app-b"} {
				if err := src.CreateTopic(name, 1, nil); err != nil {
					t.Fatal(err)
				}
			}
			cfg := testbed.Config(t, src, tgt, identity+"        retention.overtaken.policy: "+policy+"\n")
			src.Produce(t, numbered("app-a", 0, 0, 100))
			r := start(t, cfg)
			r.partition(t, "app-a", 0, 100)
			r.stop(t)

			// While kmirror is down, 100 more records arrive and retention
			// deletes the first 150: offsets 100..149 were never copied.
			src.Produce(t, numbered("app-a", 0, 100, 200))
			if err := src.DeleteRecords("app-a", 0, 150); err != nil {
				t.Fatal(err)
			}
			src.Produce(t, numbered("app-b", 0, 0, 10))
			r = start(t, cfg)
			r.caughtUp(t, src, tgt, map[string]string{"app-b": "app-b"}, 30*time.Second) // others go on
			var st PartitionStatus
			testbed.WaitFor(t, 30*time.Second, "the overtaken partition handled", func() bool {
				parts, overtaken, _ := r.flow.Status()
				for _, p := range parts {
					if p.Topic == "app-a" {
						st = p
					}
				}
				return overtaken == 1 && (st.Stopped != "" || st.Next == 200)
			})
			got := tgt.Read(t, "app-a", 0)
			switch policy {
			case "stop":
				if !strings.Contains(st.Stopped, "the source deleted offsets 100 to 149 before they were copied; partition stopped") {
					t.Errorf("stopped: %q", st.Stopped)
				}
				if len(got) != 100 || st.Next != 100 {
					t.Errorf("%d records on the target, next %d; want 100 and 100", len(got), st.Next)
				}
			case "skip":
				_, _, lost := r.flow.Status()
				if len(st.Gaps) != 1 || st.Gaps[0] != (Gap{From: 100, To: 150}) || lost != 50 {
					t.Errorf("gaps %v, lost %d; want [100,150) and 50", st.Gaps, lost)
				}
				if len(got) != 150 || string(got[99].Value) != "99" || string(got[100].Value) != "150" {
					t.Fatalf("%d records on the target; want 0..99 then 150..199", len(got))
				}
				// A committed offset inside the gap translates to the first
				// record after it.
				ps := r.partition(t, "app-a", 0, 200)
				ps.mu.Lock()
				off, res := ps.m.Translate(120)
				ps.mu.Unlock()
				if off != 100 || res != offsetmap.Exact {
					t.Errorf("Translate(120) = %d %v, want 100", off, res)
				}
			}
			r.stop(t)
		})
	}
}

// Segments wholly below the source log start are deleted from the
// offset-map topic, but the last of them: it tells a rollback where the
// copies of the deleted records end on the target. The one that covers
// the log start stays.
func TestSegmentsBelowTheLogStartAreDeleted(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, identity)
	// Each run starts a new segment: [0,50), [50,100) and [100,150).
	for from := 0; from < 150; from += 50 {
		src.Produce(t, numbered("app-a", 0, from, from+50))
		r := start(t, cfg)
		r.partition(t, "app-a", 0, int64(from+50))
		r.stop(t)
	}
	if err := src.DeleteRecords("app-a", 0, 110); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)
	syncs := func() []int64 {
		recs := map[string]bool{}
		err := cluster.ScanTopic(t.Context(), []kgo.Opt{kgo.SeedBrokers(tgt.Addr)}, "kmirror-offset-map.source.internal", func(r *kgo.Record) {
			recs[string(r.Key)] = r.Value != nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var starts []int64
		for k, live := range recs {
			if !live {
				continue
			}
			sk, ok, err := progress.DecodeSegmentKey([]byte(k))
			if ok && err == nil {
				starts = append(starts, sk.Source)
			}
		}
		slices.Sort(starts)
		return starts
	}
	testbed.WaitFor(t, 15*time.Second, "the segment below the log start deleted", func() bool {
		return slices.Equal(syncs(), []int64{50, 100})
	})
	ps := r.partition(t, "app-a", 0, 150)
	ps.mu.Lock()
	_, below := ps.m.Translate(80)
	at, res := ps.m.Translate(110)
	_, gone := ps.m.Back(80)
	back, bres := ps.m.Back(110)
	ps.mu.Unlock()
	if below != offsetmap.Expired || at != 110 || res != offsetmap.Exact {
		t.Errorf("Translate(80) %v, Translate(110) = %d %v", below, at, res)
	}
	if gone != offsetmap.Expired || back != 110 || bres != offsetmap.Exact {
		t.Errorf("Back(80) %v, Back(110) = %d %v", gone, back, bres)
	}
	r.stop(t)
}
