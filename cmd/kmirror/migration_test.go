package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// runs runs a kmirror command to its end and returns its exit code and
// output.
func runs(t *testing.T, within time.Duration, args ...string) (int, string) {
	t.Helper()
	p := start(t, args...)
	return p.exit(t, within), p.output()
}

// The seed's consumer-first migration, steps (a)–(e), with real processes:
// two dev-clusters, `kmirror run`, and the migration commands. After each
// step, every topic and group stands in the phase the step leads to, as
// `kmirror status --json`, the API and the status page all show it; a
// restart of kmirror midway keeps the story.
func TestConsumerFirstMigration(t *testing.T) {
	_, source, _ := devCluster(t, "--topic", "app1-t1:4", "--topic", "app1-t2:2")
	_, target, _ := devCluster(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "kmirror.yaml")
	writeConfig := func(topics string) {
		t.Helper()
		cfg := testbed.NativeConfigAt(source, target, fmt.Sprintf(`    topicsPattern: %q
    groupsPattern: "^(app1.*)$"
    sourceConnector:
      config:
        replication.policy.class: io.strimzi.kafka.connect.mirror.IdentityReplicationPolicy
        refresh.topics.enabled: "false"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: "true"
`, topics))
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("app1-t1, app1-t2")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var written []string
	seen := map[string]int{}
	produce := func(cl *kgo.Client, n int) {
		t.Helper()
		var recs []*kgo.Record
		mu.Lock()
		for range n {
			i := len(written)
			topic := []string{"app1-t1", "app1-t2"}[i%2]
			v := fmt.Sprintf("%s-%06d", topic, i)
			written = append(written, v)
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 13)), Value: []byte(v)})
		}
		mu.Unlock()
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// consume reads as group app1-consumer on a cluster until stop,
	// committing after every poll.
	consume := func(brokers string, stop <-chan struct{}) func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumerGroup("app1-consumer"), kgo.ConsumeTopics("app1-t1", "app1-t2"),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer cl.Close() // leaves the group
			for {
				pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
				fs := cl.PollFetches(pctx)
				pcancel()
				mu.Lock()
				fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
				mu.Unlock()
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					t.Errorf("commit: %v", err)
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
		return func() { <-done }
	}

	// (a) Producers and consumers work on the source; kmirror mirrors.
	srcProducer, err := kgo.NewClient(kgo.SeedBrokers(source))
	if err != nil {
		t.Fatal(err)
	}
	defer srcProducer.Close()
	produce(srcProducer, 2000)
	stopSource := make(chan struct{})
	sourceConsumerDone := consume(source, stopSource)
	producing := make(chan struct{})
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for {
			select {
			case <-producing:
				return
			case <-time.After(10 * time.Millisecond):
				produce(srcProducer, 20)
			}
		}
	}()
	run := start(t, "run", "-c", path, "--http", "127.0.0.1:0")
	run.waitFor(t, "running; stop with SIGINT or SIGTERM", 30*time.Second)
	story := &storyWatch{config: path, run: run}
	all := func(phase string) phases {
		return phases{"topic app1-t1": phase, "topic app1-t2": phase, "group app1-consumer": phase}
	}
	story.check(t, "a-mirroring", all("mirroring"))

	// (b) While the consumers run on the source, the group is not ready.
	code, out := runs(t, time.Minute, "migrate", "ready", "-c", path, "--group", "app1-consumer")
	if code != 1 || !strings.Contains(out, "still active on the source") {
		t.Fatalf("migrate ready with the consumers on the source: exit %d\n%s", code, out)
	}
	close(stopSource)
	sourceConsumerDone()
	testbed.WaitFor(t, time.Minute, "migrate ready to say yes", func() bool {
		code, out = runs(t, time.Minute, "migrate", "ready", "-c", path, "--group", "app1-consumer")
		return code == 0
	})
	if !strings.Contains(out, "READY to switch") {
		t.Errorf("migrate ready:\n%s", out)
	}
	story.check(t, "b-consumers-ready", all("consumers-ready"))

	// Another tool's record in the journal is reported and skipped.
	journalWriter, err := kgo.NewClient(kgo.SeedBrokers(target))
	if err != nil {
		t.Fatal(err)
	}
	defer journalWriter.Close()
	if err := journalWriter.ProduceSync(ctx, &kgo.Record{Topic: "kmirror-journal.source.internal", Key: []byte("not-a-step"), Value: []byte(`{"v":1}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	run.waitFor(t, "skipped a record of the migration's journal that is not a journal event", 30*time.Second)

	// (c) The consumers switch to the target.
	stopTarget := make(chan struct{})
	targetConsumerDone := consume(target, stopTarget)
	story.check(t, "c-consumers-switched", all("consumers-switched"))

	// (d) The producers stop on the source; drain.
	close(producing)
	<-producerDone
	code, out = runs(t, 2*time.Minute, "migrate", "drain", "-c", path, "--topic", "app1-t1,app1-t2", "--timeout", "1m", "--quiet-window", "2s")
	if code != 0 || !strings.Contains(out, "drained: everything on app1-t1, app1-t2 is on the target") {
		t.Fatalf("migrate drain: exit %d\n%s", code, out)
	}
	mu.Lock()
	onSource := len(written)
	mu.Unlock()
	before := story.check(t, "d-producers-drained", all("producers-drained"))

	// kmirror restarts midway: the story is kept, each step since when it
	// was reached.
	if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := run.exit(t, 45*time.Second); code != 0 {
		t.Fatalf("run: exit %d after SIGTERM:\n%s", code, run.output())
	}
	run = start(t, "run", "-c", path, "--http", "127.0.0.1:0")
	run.waitFor(t, "running; stop with SIGINT or SIGTERM", 30*time.Second)
	story.run = run
	after := story.check(t, "d-restarted", all("producers-drained"))
	for k, st := range before {
		if a := after[k]; st.Since == nil || a.Since == nil || !a.Since.Equal(*st.Since) || len(a.Timeline) != len(st.Timeline) {
			t.Errorf("%s after a restart: %+v, before %+v", k, a, st)
		}
	}

	// The producers switch to the target.
	tgtProducer, err := kgo.NewClient(kgo.SeedBrokers(target))
	if err != nil {
		t.Fatal(err)
	}
	defer tgtProducer.Close()
	produce(tgtProducer, 200)

	// Every record reaches the group exactly once across the switch.
	testbed.WaitFor(t, time.Minute, "the target consumers to see every record", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range written {
			if seen[v] == 0 {
				return false
			}
		}
		return true
	})
	close(stopTarget)
	targetConsumerDone()
	mu.Lock()
	duplicates := 0
	for _, v := range written {
		duplicates += seen[v] - 1
	}
	mu.Unlock()
	t.Logf("%d records written on the source, 200 on the target; %d duplicates", onSource, duplicates)
	if duplicates != 0 {
		t.Errorf("%d records consumed twice across the switch", duplicates)
	}

	// The mirrored ranges are identical.
	code, out = runs(t, time.Minute, "verify", "-c", path, "--topic", "app1-t1,app1-t2")
	if code != 0 {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	story.check(t, "verified", all("verified"))

	// (e) app1-t2 leaves the allow-list: SIGHUP applies it.
	writeConfig("app1-t1")
	if err := run.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := run.waitFor(t, "stopped copying: no longer selected", 30*time.Second)
	if !strings.Contains(line, "topic=app1-t2") {
		t.Errorf("released: %s", line)
	}
	// A group stands where the least advanced of its topics does.
	story.check(t, "e-app1-t2-done", phases{"topic app1-t1": "verified", "topic app1-t2": "done", "group app1-consumer": "verified"})
	// Its consumers stopped on the target, the group is still switched:
	// its target commits, ahead of any translation, are its own.
	if code, out := runs(t, time.Minute, "migrate", "ready", "-c", path, "--group", "app1-consumer"); code != 0 || !strings.Contains(out, "SWITCHED") {
		t.Errorf("migrate ready after the switch, the consumers stopped on the target: exit %d\n%s", code, out)
	}
	writeConfig("none-left")
	if err := run.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	story.check(t, "e-done", all("done"))
	code, out = runs(t, time.Minute, "migrate", "report", "-c", path, "--log-level", "error")
	for _, want := range []string{"| done | 1 | 2 |", "#### app1-consumer: done since ", "#### app1-t1: done since ", "| verified | identical"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("migrate report: exit %d, no %q in\n%s", code, want, out)
		}
	}
	if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := run.exit(t, 45*time.Second); code != 0 {
		t.Fatalf("run: exit %d after SIGTERM:\n%s", code, run.output())
	}
}
