package journal_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/testbed"
)

// TestRecordAndRead: events written by one client are the story another
// reads; foreign records are reported with their offset and skipped, and
// another flow's events are left out.
func TestRecordAndRead(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	cfg := testbed.Config(t, src, tgt, "    topicsPattern: \"app1-.*\"\n")
	f := cfg.Flows[0]
	at := time.Date(2026, 12, 1, 6, 30, 0, 0, time.UTC)
	cl := tgt.Client(t)
	ctx := t.Context()

	if story, problems, err := journal.Read(ctx, f, []kgo.Opt{kgo.SeedBrokers(tgt.Addr)}); err != nil || len(problems) > 0 || len(story.Names(journal.TopicSubject)) > 0 {
		t.Fatalf("a journal never written: %v %v", err, problems)
	}
	if err := journal.Record(ctx, f, cl,
		journal.Event{Subject: journal.TopicSubject, Name: "app1-orders", Kind: journal.Started, Time: at, By: "test"},
		journal.Event{Subject: journal.TopicSubject, Name: "app1-orders", Kind: journal.Verified, Time: at, By: "test", Verdict: journal.VerdictDiffers},
	); err != nil {
		t.Fatal(err)
	}
	// Foreign records, and another flow's event.
	other, otherValue, err := journal.Encode(journal.Event{Flow: "other->target", Subject: journal.TopicSubject, Name: "x", Kind: journal.Started, Time: at, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: f.JournalTopic(), Key: []byte("not a journal key"), Value: []byte("{}")},
		&kgo.Record{Topic: f.JournalTopic(), Key: other, Value: otherValue},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A later verify replaces the earlier one.
	if err := journal.Record(ctx, f, cl, journal.Event{Subject: journal.TopicSubject, Name: "app1-orders", Kind: journal.Verified,
		Time: at.Add(time.Minute), By: "test", Verdict: journal.VerdictIdentical, Counts: map[string]int64{"records": 10}}); err != nil {
		t.Fatal(err)
	}

	story, problems, err := journal.Read(ctx, f, []kgo.Opt{kgo.SeedBrokers(tgt.Addr)})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "offset 2") {
		t.Errorf("problems %v, want the foreign record at offset 2", problems)
	}
	if names := story.Names(journal.TopicSubject); len(names) != 1 || names[0] != "app1-orders" {
		t.Errorf("topics %v", names)
	}
	v, ok := story.Event(journal.TopicSubject, "app1-orders", journal.Verified)
	if !ok || v.Verdict != journal.VerdictIdentical || v.Counts["records"] != 10 || !v.Time.Equal(at.Add(time.Minute)) || v.Flow != f.Name() {
		t.Errorf("verified %+v", v)
	}
	if len(story.Timeline(journal.TopicSubject, "app1-orders")) != 2 {
		t.Errorf("timeline %+v", story.Timeline(journal.TopicSubject, "app1-orders"))
	}
}
