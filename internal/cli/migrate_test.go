package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/app"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/migrate"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
	"github.com/kmirror/kmirror/internal/workgroup"
)

func TestStatusOutput(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	rate := 1234.5
	since := time.Date(2026, 11, 24, 11, 30, 0, 0, time.UTC)
	lastProgress := time.Date(2026, 11, 24, 11, 59, 58, 0, time.UTC)
	r := status.Report{Time: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Flows: []status.Flow{{
		Name: "source->target", Source: "source", Target: "target", Direction: status.DirectionForward,
		State: status.StateStalled, StateReason: "the progress of app1-t2[1] has not moved for 2m0s while the source is ahead",
		Workers:      []workgroup.Worker{{ID: "kmirror-1f0c", Client: "kmirror", Host: "/10.0.0.7", Holds: workgroup.Partitions{"app1-t1": {0, 1}, "app1-t2": {0, 1}}}},
		LastProgress: &lastProgress, Stalled: []string{"app1-t2[1]"},
		Heartbeat: &status.Heartbeat{Time: time.Date(2026, 11, 24, 11, 59, 59, 0, time.UTC), RTTSeconds: 0.004},
		Topics: []status.Topic{
			{Topic: "app1-t1", Target: "app1-t1", LagRecords: 0, Copied: 5000, RecordsPerSecond: &rate, Partitions: []status.Partition{},
				Step: &status.Step{Phase: "consumers-ready", Since: &since, By: "kmirror migrate ready on host1",
					Timeline: []status.StepEvent{{Event: "started", Time: since.Add(-time.Hour), By: "kmirror run on host2", Counts: map[string]int64{"partitions": 2}}}}},
			{Topic: "app1-t2", Target: "app1-t2", LagRecords: 42, LagSeconds: 3.25, Copied: 100, Partitions: []status.Partition{
				{Partition: 0, SourceEnd: 80, Next: i(60), LagRecords: 20, LagSeconds: 3.25},
				{Partition: 1, SourceEnd: 62, Next: i(40), LagRecords: 22, LagSeconds: 1.5},
			}, Step: &status.Step{Phase: "mirroring", Timeline: []status.StepEvent{}}},
			{Topic: "app0-t1", Target: "app0-t1", Copied: 5000, Partitions: []status.Partition{}, Step: &status.Step{Phase: "done", Since: &since, By: "kmirror run on host2", Timeline: []status.StepEvent{
				{Event: "verified", Time: since.Add(-time.Minute), By: "kmirror verify on host1", Verdict: "identical", Counts: map[string]int64{"compared": 5000, "identical": 5000, "missing": 0, "extra": 0}},
				{Event: "removed", Time: since, By: "kmirror run on host2"}}}},
		},
		Blocked: []discover.Blocked{{Topic: "app1-t3", Reason: "the target topic has fewer partitions"}},
		Groups: []status.Group{
			{Group: "app1-consumer", Verdict: status.VerdictReady, Reasons: []string{}, Partitions: []status.GroupPartition{
				{Topic: "app1-t1", TargetTopic: "app1-t1", Partition: 0, Source: 17, Translated: i(15), Target: i(15), State: status.StateInSync, Translation: status.TranslationExact},
				{Topic: "app1-t1", TargetTopic: "app1-t1", Partition: 1, Source: 40, Translated: i(31), Target: i(31), State: status.StateInSync, Translation: status.TranslationMM2},
			}},
			{Group: "app1-batch", Verdict: status.VerdictNotReady, ActiveOnSource: 2, Reasons: []string{"2 consumers are still active on the source: stop them, then wait for their last offsets to be synced"},
				Partitions: []status.GroupPartition{{Topic: "app1-t2", TargetTopic: "app1-t2", Partition: 1, Source: 9, State: status.StateNotMirrored}}},
			{Group: "app1-api", Verdict: status.VerdictSwitched, ActiveOnTarget: 3, Reasons: []string{}, Partitions: []status.GroupPartition{},
				Step: &status.Step{Phase: "consumers-switched", Since: &since, By: "kmirror migrate ready on host1", Timeline: []status.StepEvent{
					{Event: "switched", Time: since, By: "kmirror migrate ready on host1", Topics: []string{"app1-t1"}}}}},
		},
		Errors: []string{},
	}}}
	var text, js bytes.Buffer
	printStatus(&text, r, 10*time.Second)
	golden(t, "status", text.String())
	if err := writeJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-json", js.String())
}

// The migrate commands against a running mirror: ready says no until the
// group's offsets are translated and synced, then yes; drain exits 0 when
// the mirror has everything, and times out naming what remains (with a
// warning when a producer still writes) when the mirror is stopped.
func TestMigrateCommands(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app1-t1", 2, nil); err != nil {
		t.Fatal(err)
	}
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: "app1-t1", Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)})
		}
		src.Produce(t, recs)
	}
	produce(0, 50)
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app1-t1", Partition: 0, At: 20, LeaderEpoch: -1})
	o.Add(kadm.Offset{Topic: "app1-t1", Partition: 1, At: 25, LeaderEpoch: -1})
	if _, err := kadm.NewClient(src.Client(t)).CommitOffsets(context.Background(), "app1-g", o); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kmirror.yaml")
	testbed.WriteFiles(t, dir, map[string][]byte{"kmirror.yaml": []byte(testbed.NativeConfig(src, tgt, `    topicsPattern: "app1-.*"
    groupsPattern: "app1-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`))})
	ctx := context.Background()

	code, out, _ := execute(t, ctx, "migrate", "ready", "-c", path, "--group", "app1-g", "--wait", "1s")
	if code != ExitFailure || !strings.Contains(out, "NOT READY") || !strings.Contains(out, "app1-t1[0]: committed offset 20 is not mirrored yet") {
		t.Fatalf("before mirroring, after --wait 1s: exit %d\n%s", code, out)
	}
	if code, _, errOut := execute(t, ctx, "migrate", "ready", "-c", path, "--group", "app1-g", "--wait", "-1s"); code != ExitUsage || !strings.Contains(errOut, "--wait -1s is negative") {
		t.Errorf("--wait -1s: exit %d\n%s", code, errOut)
	}

	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(cfg, slog.New(slog.DiscardHandler), app.Options{})
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	running := true
	stopMirror := func() {
		if running {
			stop()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
			running = false
		}
	}
	t.Cleanup(stopMirror)

	// --wait asks until the worker has translated and committed the offsets.
	if code, out, _ = execute(t, ctx, "migrate", "ready", "-c", path, "--group", "app1-g", "--wait", "30s"); code != ExitOK {
		t.Fatalf("--wait 30s with a worker running: exit %d\n%s", code, out)
	}
	golden(t, "migrate-ready", out)
	if code, out, _ := execute(t, ctx, "migrate", "ready", "-c", path, "--group", "app1-g", "--json"); code != ExitOK || !strings.Contains(out, `"ready": true`) {
		t.Errorf("--json: exit %d\n%s", code, out)
	}
	if code, out, _ := execute(t, ctx, "migrate", "ready", "-c", path, "--group", "other"); code != ExitFailure || !strings.Contains(out, `no flow follows group "other"`) {
		t.Errorf("unknown group: exit %d\n%s", code, out)
	}
	if code, out, errOut := execute(t, ctx, "status", "-c", path, "--interval", "100ms"); code != ExitOK ||
		!strings.Contains(out, "flow source->target") || !strings.Contains(out, "app1-g: READY") ||
		!strings.Contains(out, "  workers: 1; progress last moved: 20") || !strings.Contains(out, ": 2 held: app1-t1[0,1]") {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut := execute(t, ctx, "migrate", "drain", "-c", path, "--topic", "app1-t1", "--interval", "100ms", "--quiet-window", "1s")
	if code != ExitOK || !strings.Contains(out, "drained: everything on app1-t1 is on the target and nothing wrote to it for 1s") {
		t.Fatalf("drain: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = execute(t, ctx, "migrate", "drain", "-c", path, "--topic", "app1-t1", "--interval", "100ms", "--quiet-window", "1s", "--json")
	var drained struct {
		Drained bool
		Topics  []string
		Last    struct {
			Remaining                   int64
			Partitions                  []string
			Written                     []migrate.Written
			QuietSeconds, WindowSeconds float64
		}
	}
	if err := json.Unmarshal([]byte(out), &drained); code != ExitOK || err != nil || !drained.Drained || !slices.Equal(drained.Topics, []string{"app1-t1"}) ||
		drained.Last.Remaining != 0 || drained.Last.Partitions == nil || len(drained.Last.Written) != 0 || drained.Last.WindowSeconds != 1 || drained.Last.QuietSeconds < 1 {
		t.Errorf("drain --json: exit %d, %v, %+v\n%s%s", code, err, drained, out, errOut)
	}
	// The journal tells the story: the group's last verdict, the drain.
	story, problems, err := journal.Read(ctx, cfg.Flows[0], []kgo.Opt{kgo.SeedBrokers(tgt.Addr)})
	if err != nil || len(problems) > 0 {
		t.Fatalf("read the journal: %v %v", err, problems)
	}
	if e, ok := story.Event(journal.GroupSubject, "app1-g", journal.Ready); !ok || e.Verdict != journal.VerdictReady ||
		!slices.Equal(e.Topics, []string{"app1-t1"}) || !strings.HasPrefix(e.By, "kmirror migrate ready") {
		t.Errorf("the journal's ready verdict: %+v", e)
	}
	if e, ok := story.Event(journal.TopicSubject, "app1-t1", journal.Drained); !ok || !strings.HasPrefix(e.By, "kmirror migrate drain") {
		t.Errorf("the journal's drain: %+v", e)
	}
	if _, ok := story.Event(journal.GroupSubject, "other", journal.Ready); ok {
		t.Error("the journal tells of a group no flow follows")
	}

	// migrate report tells the same story, for a change ticket.
	code, out, errOut = execute(t, ctx, "migrate", "report", "-c", path)
	if code != ExitOK || !strings.Contains(out, "#### app1-g: consumers-ready since ") || !strings.Contains(out, "#### app1-t1: producers-drained since ") ||
		!strings.Contains(out, "| ready | ready | kmirror migrate ready on ") || !strings.Contains(out, "| drained |  | kmirror migrate drain on ") {
		t.Errorf("migrate report: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = execute(t, ctx, "migrate", "report", "-c", path, "--json")
	var rep migrate.Story
	if err := json.Unmarshal([]byte(out), &rep); code != ExitOK || err != nil || len(rep.Flows) != 1 || len(rep.Flows[0].Groups) != 1 {
		t.Fatalf("migrate report --json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	var steps []string
	for _, e := range rep.Flows[0].Groups[0].Timeline {
		steps = append(steps, e.Event)
	}
	if g := rep.Flows[0].Groups[0]; g.Name != "app1-g" || g.Phase != string(journal.PhaseReady) || !slices.Equal(g.Topics, []string{"app1-t1"}) ||
		!slices.Contains(steps, "ready") { // the running worker records "translated" too, before or after
		t.Errorf("migrate report --json: group %+v, steps %v", g, steps)
	}

	if code, _, errOut := execute(t, ctx, "migrate", "drain", "-c", path, "--topic", "app1-t1,absent"); code != ExitFailure || !strings.Contains(errOut, `no flow mirrors topic "absent"`) {
		t.Errorf("unknown topic: exit %d\n%s", code, errOut)
	}

	// With a producer still writing, drain names the partitions written
	// and times out naming them.
	produce(50, 5)
	pctx, stopProducing := context.WithCancel(ctx)
	var wg sync.WaitGroup
	writer := src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	wg.Go(func() {
		// Not produce: t.Fatal belongs to the test's goroutine.
		for n := 55; pctx.Err() == nil; n++ {
			r := &kgo.Record{Topic: "app1-t1", Partition: int32(n % 2), Value: fmt.Appendf(nil, "v%d", n)}
			if err := writer.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Errorf("produce while draining: %v", err)
				return
			}
		}
	})
	code, out, errOut = execute(t, ctx, "migrate", "drain", "-c", path, "--topic", "app1-t1", "--interval", "100ms", "--timeout", "2s", "--quiet-window", "1s")
	stopProducing()
	wg.Wait()
	if code != ExitFailure || !strings.Contains(errOut, "not drained before the timeout after 2s") ||
		!strings.Contains(out, "; still written: app1-t1[") ||
		!strings.Contains(errOut, "2 partitions are still written to: stop their producers") ||
		!strings.Contains(errOut, `- app1-t1[0] on "source": its end moved `) || !strings.Contains(errOut, `- app1-t1[1] on "source": its end moved `) {
		t.Errorf("drain with a producer writing: exit %d\n%s%s", code, out, errOut)
	}

	// With the mirror stopped, nothing will copy what remains: the
	// commands that wait on it say so at once, and status shows the flow
	// stopped.
	stopMirror()
	produce(100, 4)
	noWorker := `flow source->target: stopped: no kmirror worker runs this flow (its workers' group "kmirror.source.target" on "target" has no member)`
	code, out, errOut = execute(t, ctx, "migrate", "drain", "-c", path, "--topic", "app1-t1", "--interval", "100ms")
	if code != ExitFailure || !strings.Contains(errOut, noWorker) {
		t.Errorf("drain with the mirror stopped: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := execute(t, ctx, "migrate", "ready", "-c", path, "--group", "app1-g"); code != ExitFailure || !strings.Contains(out, noWorker) {
		t.Errorf("ready with the mirror stopped: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := execute(t, ctx, "status", "-c", path, "--interval", "100ms"); code != ExitOK ||
		!strings.Contains(out, "flow source->target (stopped: no kmirror worker runs this flow)") || !strings.Contains(out, "  workers: 0; progress last moved: 20") {
		t.Errorf("status with the mirror stopped: exit %d\n%s%s", code, out, errOut)
	}
}

// kmirror demo walks the migration and ends with an exact summary.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, out, errOut := execute(t, ctx, "demo", "--http", "", "--records", "5000")
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"(a) ", "(b) ", "app1-consumer: READY", "app2-consumer: READY", "(c) ", "(d) ", "drained", "(e) ",
		"`kmirror verify`: 5000 records identical", "journal tells it: 5 topics and 2 groups done", "summary: 5000 records copied, 5000 verified, 2 groups switched, 0 duplicates, 0 lost"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestDrainOutput(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	writing := []migrate.Written{
		{Cluster: "source", Topic: "app1-t1", Partition: 0, EndMoved: at.Add(-300 * time.Millisecond), OpenFrom: -1,
			Producers: []migrate.Producer{{ID: 4001, LastWrite: at.Add(-300 * time.Millisecond), TxnStart: -1}}},
		{Cluster: "source", Topic: "app1-t1", Partition: 1, OpenFrom: 118,
			Producers: []migrate.Producer{{ID: 4002, Epoch: 3, LastWrite: at.Add(-4 * time.Second), TxnStart: 118, TransactionalID: "orders-tx"}}},
	}
	var plain, tty bytes.Buffer
	for _, st := range []migrate.DrainState{
		{At: at, Remaining: 400, Initial: 400, Partitions: []string{"app1-t1[0]", "app1-t1[1] (not mirrored yet)"}, Written: writing, Window: 10 * time.Second},
		{At: at, Remaining: 100, Initial: 400, Partitions: []string{"app1-t1[1]"}, Quiet: 2500 * time.Millisecond, Window: 10 * time.Second},
		{At: at, Remaining: 0, Initial: 400, Quiet: 10 * time.Second, Window: 10 * time.Second},
	} {
		printDrain(&plain, st, false)
		printDrain(&tty, st, true)
	}
	golden(t, "drain", plain.String()+"--- on a terminal:\n"+strings.ReplaceAll(tty.String(), "\x1b[K", "<clear to end of line>")+"\n"+
		"--- at the timeout:\n"+notDrained(migrate.DrainState{At: at, Remaining: 3, Partitions: []string{"app1-t1[0]"}, Written: writing, Window: 10 * time.Second})+"\n")
}
