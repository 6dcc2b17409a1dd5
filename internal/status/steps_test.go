package status_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// TestStepsFromTheJournal: status shows where each topic and group stands
// in the migration: a selected topic and its group from the journal and
// the clusters, and a topic that left the selection after an identical
// verify as done, not absent; a foreign record in the journal is skipped.
func TestStepsFromTheJournal(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app1-t1", 1, nil); err != nil {
		t.Fatal(err)
	}
	produceValues(t, src, "app1-t1", 10, func(int) int32 { return 0 })
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app1-t1", Partition: 0, At: 4, LeaderEpoch: -1})
	if _, err := kadm.NewClient(src.Client(t)).CommitOffsets(context.Background(), "app1-g", o); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app1-t1"
    groupsPattern: "app1-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`)
	f := cfg.Flows[0]
	at := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	ev := func(s journal.SubjectKind, name string, k journal.Kind, min int, verdict string, topics ...string) journal.Event {
		return journal.Event{Subject: s, Name: name, Kind: k, Time: at.Add(time.Duration(min) * time.Minute), By: "test", Verdict: verdict, Topics: topics}
	}
	if err := journal.Record(context.Background(), f, tgt.Client(t),
		ev(journal.TopicSubject, "app1-t1", journal.Started, 0, ""),
		ev(journal.GroupSubject, "app1-g", journal.Ready, 5, journal.VerdictReady, "app1-t1"),
		// app0-t1 was migrated before and left the allow-list.
		ev(journal.TopicSubject, "app0-t1", journal.Started, 0, ""),
		ev(journal.TopicSubject, "app0-t1", journal.Verified, 10, journal.VerdictIdentical),
		ev(journal.TopicSubject, "app0-t1", journal.Removed, 11, ""),
		ev(journal.GroupSubject, "app0-g", journal.Switched, 8, "", "app0-t1"),
	); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Client(t).ProduceSync(context.Background(), &kgo.Record{Topic: f.JournalTopic(), Key: []byte("foreign"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	_, stop := runApp(t, cfg)
	defer stop()

	c, err := status.New(cfg, testbed.Logger(t), status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var r status.Report
	testbed.WaitUntil(t, 30*time.Second, "the mirror to copy app1-t1 and translate app1-g", func() error {
		r = c.Collect(context.Background())
		for _, g := range r.Flows[0].Groups {
			if g.Group == "app1-g" && g.Verdict == status.VerdictReady && len(r.Flows[0].Errors) == 0 {
				return nil
			}
		}
		return fmt.Errorf("%+v", r.Flows[0])
	})
	steps := map[string]string{}
	for _, tp := range r.Flows[0].Topics {
		if tp.Step != nil {
			steps["topic "+tp.Topic] = tp.Step.Phase
		}
	}
	for _, g := range r.Flows[0].Groups {
		if g.Step != nil {
			steps["group "+g.Group] = g.Step.Phase + " " + g.Verdict
		}
	}
	want := map[string]string{
		"topic app1-t1": string(journal.PhaseReady),
		"topic app0-t1": string(journal.PhaseDone),
		"group app1-g":  string(journal.PhaseReady) + " " + status.VerdictReady,
		"group app0-g":  string(journal.PhaseDone) + " " + status.VerdictSwitched,
	}
	for k, v := range want {
		if steps[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, steps[k], v, steps)
		}
	}
	for _, tp := range r.Flows[0].Topics {
		if tp.Topic == "app0-t1" && (tp.Step.Since == nil || !tp.Step.Since.Equal(at.Add(11*time.Minute)) || tp.Step.By != "test") {
			t.Errorf("app0-t1's step: %+v", tp.Step)
		}
	}
}

// TestCollectOnlyCollects: Collect writes nothing to the journal; Record
// writes the steps the report shows and the journal lacks, once, and the
// report shows them as if read back.
func TestCollectOnlyCollects(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app1-t1", 1, nil); err != nil {
		t.Fatal(err)
	}
	produceValues(t, src, "app1-t1", 10, func(int) int32 { return 0 })
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app1-t1"`)
	f := cfg.Flows[0]
	c, err := status.New(cfg, testbed.Logger(t), status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	journaled := func() []journal.Event {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		story, _, err := journal.Read(ctx, f, cluster.Options(cfg.Cluster(f.Target), testbed.Logger(t)))
		if err != nil {
			t.Fatal(err)
		}
		return story.Timeline(journal.TopicSubject, "app1-t1")
	}
	started := func(s *status.Step) bool {
		return s != nil && slices.ContainsFunc(s.Timeline, func(e status.StepEvent) bool { return e.Event == string(journal.Started) })
	}

	r := c.Collect(context.Background())
	if len(r.Flows[0].Errors) > 0 || len(r.Flows[0].Topics) != 1 {
		t.Fatalf("%+v", r.Flows[0])
	}
	if started(r.Flows[0].Topics[0].Step) {
		t.Errorf("the report shows a step nothing recorded: %+v", r.Flows[0].Topics[0].Step)
	}
	if es := journaled(); len(es) > 0 {
		t.Fatalf("Collect wrote to the journal: %+v", es)
	}

	c.Record(context.Background(), &r, "test")
	if step := r.Flows[0].Topics[0].Step; !started(step) {
		t.Errorf("after Record the report's step: %+v, want the topic started", step)
	}
	es := journaled()
	if len(es) != 1 || es[0].Kind != journal.Started || es[0].By != "test" {
		t.Fatalf("journal after Record: %+v", es)
	}
	// Recorded once: the next refresh finds the step in the journal.
	r = c.Collect(context.Background())
	c.Record(context.Background(), &r, "test")
	if !started(r.Flows[0].Topics[0].Step) || len(journaled()) != 1 {
		t.Errorf("the second refresh: step %+v, journal %+v", r.Flows[0].Topics[0].Step, journaled())
	}
}
