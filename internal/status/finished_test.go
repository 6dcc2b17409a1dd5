package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// TestFinishedTopicsKeepTheirFigures: a topic that left the allow-list
// after its migration keeps what was copied: from its stored progress
// while the source still lists its partitions, else from the journal's
// copied count; its verify counts stay in its timeline, in the order they read.
func TestFinishedTopicsKeepTheirFigures(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, name := range []string{"app0-t1", "app1-t1"} {
		if err := src.CreateTopic(name, 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	produceValues(t, src, "app0-t1", 30, func(i int) int32 { return int32(i % 2) })
	produceValues(t, src, "app1-t1", 5, func(int) int32 { return 0 })
	mirror := func(pattern string) string {
		return fmt.Sprintf("    topicsPattern: %q\n    sourceConnector:\n      config:\n        replication.policy.class: identity\n", pattern)
	}
	before := testbed.Config(t, src, tgt, mirror("app0-t1|app1-t1"))
	_, stop := runApp(t, before)
	testbed.WaitFor(t, 30*time.Second, "app0-t1 copied", func() bool {
		e := tgt.EndOffsets(t, "app0-t1")
		return e[0]+e[1] == 30
	})
	stop()

	// app0-t1 was verified and left the allow-list; gone-t1, whose source
	// topic was deleted since, is known by the journal alone.
	after := testbed.Config(t, src, tgt, mirror("app1-t1"))
	at := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	verified := map[string]int64{"compared": 30, "identical": 30, "missing": 0, "extra": 0, "altered": 0, "partitions": 2, "notMirrored": 0, "recreated": 0}
	var events []journal.Event
	for _, name := range []string{"app0-t1", "gone-t1"} {
		ev := func(k journal.Kind, min int, verdict string, counts map[string]int64) journal.Event {
			return journal.Event{Subject: journal.TopicSubject, Name: name, Kind: k, Time: at.Add(time.Duration(min) * time.Minute), By: "test", Verdict: verdict, Counts: counts}
		}
		events = append(events, ev(journal.Started, 0, "", nil), ev(journal.CaughtUp, 1, "", map[string]int64{"copied": 7}),
			ev(journal.Verified, 10, journal.VerdictIdentical, verified), ev(journal.Removed, 11, "", nil))
	}
	if err := journal.Record(context.Background(), after.Flows[0], tgt.Client(t), events...); err != nil {
		t.Fatal(err)
	}

	c, err := status.New(after, testbed.Logger(t), status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := c.Collect(context.Background())
	if errs := r.Flows[0].Errors; len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	tests := []struct {
		topic  string
		copied int64
	}{
		{"app0-t1", 30}, // its stored progress, not the journal's earlier 7
		{"gone-t1", 7},  // the journal's
	}
	for _, tc := range tests {
		t.Run(tc.topic, func(t *testing.T) {
			var got *status.Topic
			for i, tp := range r.Flows[0].Topics {
				if tp.Topic == tc.topic {
					got = &r.Flows[0].Topics[i]
				}
			}
			if got == nil || got.Step == nil || got.Step.Phase != string(journal.PhaseDone) {
				t.Fatalf("not listed done: %+v", got)
			}
			if got.Copied != tc.copied {
				t.Errorf("copied %d, want %d", got.Copied, tc.copied)
			}
			var counts status.Counts
			for _, e := range got.Step.Timeline {
				if e.Event == string(journal.Verified) {
					counts = e.Counts
				}
			}
			// In the order they read, as the JSON lists them.
			b, err := json.Marshal(counts)
			if want := `{"compared":30,"identical":30,"missing":0,"extra":0,"altered":0,"notMirrored":0,"recreated":0,"partitions":2}`; err != nil || string(b) != want {
				t.Errorf("verify counts %s (%v), want %s", b, err, want)
			}
		})
	}
}
