package status_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/testbed"
)

// TestRunRecordsWhatItSees: a running worker writes to the journal the
// steps it sees — a topic started and caught up, a group translated, its
// consumers active on the target, a topic a reload left out removed —
// each once: a restarted worker records nothing it recorded before.
func TestRunRecordsWhatItSees(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for _, topic := range []string{"app-a", "app-b"} {
		if err := src.CreateTopic(topic, 2, nil); err != nil {
			t.Fatal(err)
		}
		produceValues(t, src, topic, 20, func(i int) int32 { return int32(i % 2) })
	}
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: 4, LeaderEpoch: -1})
	o.Add(kadm.Offset{Topic: "app-a", Partition: 1, At: 6, LeaderEpoch: -1})
	if _, err := kadm.NewClient(src.Client(t)).CommitOffsets(context.Background(), "app-g", o); err != nil {
		t.Fatal(err)
	}
	mirror := func(pattern string) string {
		return fmt.Sprintf(`    topicsPattern: %q
    groupsPattern: "app-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`, pattern)
	}
	cfg := testbed.Config(t, src, tgt, mirror("app-.*"))
	f := cfg.Flows[0]
	a, stop := runApp(t, cfg)

	read := func() *journal.Story {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		story, problems, err := journal.Read(ctx, f, cluster.Options(cfg.Cluster(f.Target), testbed.Logger(t)))
		if err != nil || len(problems) > 0 {
			t.Fatalf("read the journal: %v %v", err, problems)
		}
		return story
	}
	want := func(what string, steps ...string) *journal.Story {
		t.Helper()
		var story *journal.Story
		testbed.WaitUntil(t, 30*time.Second, what, func() error {
			story = read()
			for _, s := range steps {
				var subject journal.SubjectKind
				var name, kind string
				if _, err := fmt.Sscan(s, &subject, &name, &kind); err != nil {
					t.Fatal(err)
				}
				e, ok := story.Event(subject, name, journal.Kind(kind))
				if !ok {
					return fmt.Errorf("no %s", s)
				}
				if e.By == "" || e.Flow != f.Name() {
					t.Fatalf("%s: %+v", s, e)
				}
			}
			return nil
		})
		return story
	}
	first := want("the worker to record the topics started and caught up, the group translated",
		"topic app-a started", "topic app-a caught-up", "topic app-b started", "topic app-b caught-up", "group app-g translated")
	if e, _ := first.Event(journal.GroupSubject, "app-g", journal.Translated); len(e.Topics) != 1 || e.Topics[0] != "app-a" {
		t.Errorf("translated names the topics %v, want [app-a]", e.Topics)
	}
	if _, ok := first.Event(journal.GroupSubject, "app-g", journal.Switched); ok {
		t.Error("switched recorded before any consumer ran on the target")
	}

	// The group's consumers start on the target.
	member := tgt.Client(t, kgo.ConsumerGroup("app-g"), kgo.ConsumeTopics("app-a"), kgo.DisableAutoCommit())
	testbed.WaitFor(t, 20*time.Second, "the member to join on the target", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		member.PollRecords(ctx, 1)
		_, generation := member.GroupMetadata()
		return generation > 0
	})
	want("the worker to record the group switched", "group app-g switched")

	// A reload leaves app-b out.
	if restart := a.Reload(testbed.Config(t, src, tgt, mirror("app-a"))); len(restart) > 0 {
		t.Fatalf("reload: %v", restart)
	}
	before := want("the worker to record app-b removed", "topic app-b removed")
	stop()

	// A restarted worker (with the reloaded selection) records nothing anew.
	cfg2 := testbed.Config(t, src, tgt, mirror("app-a"))
	a2, stop2 := runApp(t, cfg2)
	defer stop2()
	// A report is made after what its refresh saw is recorded.
	testbed.WaitFor(t, 30*time.Second, "the restarted worker's first report with steps", func() bool {
		r, ok := a2.Report()
		return ok && len(r.Flows) == 1 && len(r.Flows[0].Topics) > 0 && r.Flows[0].Topics[0].Step != nil
	})
	after := read()
	for _, subject := range []journal.SubjectKind{journal.TopicSubject, journal.GroupSubject} {
		for _, name := range before.Names(subject) {
			was, now := before.Timeline(subject, name), after.Timeline(subject, name)
			if len(was) != len(now) {
				t.Errorf("%s %s: %d steps, then %d after a restart", subject, name, len(was), len(now))
				continue
			}
			for i := range was {
				if !was[i].Equal(now[i]) {
					t.Errorf("%s %s: %+v recorded again as %+v", subject, name, was[i], now[i])
				}
			}
		}
	}
}
