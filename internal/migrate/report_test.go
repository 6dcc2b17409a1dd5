package migrate_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/migrate"
	"github.com/kmirror/kmirror/internal/status"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestReportMarkdown: the report lists per flow a summary of the phases,
// then each group and topic with its steps, checks and figures; text from
// the clusters and the journal cannot break its tables or add markup.
func TestReportMarkdown(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 12, 1, 9, min, 0, 0, time.UTC) }
	since := func(min int) *time.Time { t := at(min); return &t }
	r := status.Report{Time: at(59), Flows: []status.Flow{{
		Name: "source->target",
		Groups: []status.Group{
			{Group: "app1-consumer", Partitions: []status.GroupPartition{{Topic: "app1-t1"}},
				Step: &status.Step{Phase: "done", Since: since(40), By: "kmirror run on w1", Timeline: []status.StepEvent{
					{Event: "translated", Time: at(2), By: "kmirror run on w1", Counts: map[string]int64{"partitions": 4}, Topics: []string{"app1-t1", "app1-t2"}},
					{Event: "ready", Time: at(10), By: "kmirror migrate ready on ops", Verdict: "not-ready", Reasons: []string{"2 members still active on the source", "a | pipe and a\nline break"}},
					{Event: "switched", Time: at(12), By: "kmirror run on w1", Counts: map[string]int64{"members": 2}},
				}}},
			{Group: "app2-<b>consumer</b>", Partitions: []status.GroupPartition{{Topic: "app2-t1"}}, Step: &status.Step{Phase: "mirroring"}},
			{Group: "not-in-a-migration"},
		},
		Topics: []status.Topic{
			{Topic: "app1-t1", Target: "app1-t1", Step: &status.Step{Phase: "done", Since: since(40), By: "kmirror run on w1", Timeline: []status.StepEvent{
				{Event: "started", Time: at(0), By: "kmirror run on w1", Counts: map[string]int64{"partitions": 2}},
				{Event: "drained", Time: at(20), By: "kmirror migrate drain on ops"},
				{Event: "verified", Time: at(30), By: "kmirror verify on ops", Verdict: "identical", Counts: map[string]int64{
					"partitions": 2, "notMirrored": 0, "recreated": 0, "compared": 5000, "identical": 5000, "altered": 0, "missing": 0, "extra": 0}},
				{Event: "removed", Time: at(40), By: "kmirror run on w1"},
			}}},
			{Topic: "app2-t1", Target: "source.app2-t1", Step: &status.Step{Phase: "mirroring"}},
		},
		Errors: []string{"describe groups on source: NOT_COORDINATOR"},
	}}}
	story := migrate.NewStory(r, map[string]string{"source->target": "kmirror-journal.source.internal"})
	var b strings.Builder
	if err := story.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "report.md.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("the report differs from %s (go test -update rewrites it):\n%s", path, b.String())
	}
	if n := len(story.Flows[0].Groups); n != 2 {
		t.Errorf("%d groups in the story, want the 2 with a step", n)
	}
	if g := story.Flows[0].Groups[0]; strings.Join(g.Topics, ",") != "app1-t1,app1-t2" {
		t.Errorf("app1-consumer reads %v, want its topics now and as recorded", g.Topics)
	}
}
