package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// drainWriter is a producer that keeps writing to one partition while the
// operator asks whether its topic is drained.
type drainWriter struct {
	name string
	// skip says why the writer cannot run on this bed, or "".
	skip func() string
	// start begins writing to partition p of topic on brokers; the
	// returned stop ends the producer and waits until it is gone.
	start func(t *testing.T, brokers, topic string, p int32) (stop func(t *testing.T))
	// shows is what the drain must name as the evidence of the writes,
	// on kfake and on Apache Kafka (whose DescribeProducers also lists
	// idempotent producers); hides what it must not.
	shows func(kafka bool) []string
	hides func(kafka bool) []string
}

var drainWriters = []drainWriter{
	{name: "kcat (librdkafka, not idempotent)", skip: kcatSkip, start: startKcat,
		shows: func(bool) []string { return []string{"its end moved"} }},
	{name: "franz-go", start: kgoWriter(100 * time.Millisecond),
		shows: func(kafka bool) []string { return idempotent(kafka) }},
	{name: "franz-go without idempotence", start: kgoWriter(100*time.Millisecond, kgo.DisableIdempotentWrite()),
		shows: func(bool) []string { return []string{"its end moved"} },
		hides: func(bool) []string { return []string{"producer "} }},
	// It writes a record every second, less than the quiet window: the
	// drain must not take a pause for the end.
	{name: "franz-go pausing 1s between records", start: kgoWriter(time.Second),
		shows: func(kafka bool) []string { return idempotent(kafka) }},
	{name: "franz-go with an open transaction", start: startOpenTransaction,
		shows: func(kafka bool) []string {
			if kafka {
				return []string{"a transaction is open from offset", `transactional id "drain-open-tx-`}
			}
			return []string{"a transaction is open from offset"}
		}},
	{name: "Java KafkaProducer", skip: func() string { return javaSkip("") }, start: startJavaWriter,
		shows: func(kafka bool) []string { return idempotent(kafka) }},
}

// idempotent is the evidence of an idempotent producer's writes: its moving
// end, and on Apache Kafka its producer id with its last write.
func idempotent(kafka bool) []string {
	if kafka {
		return []string{"its end moved", "producer ", "last wrote"}
	}
	return []string{"its end moved"}
}

// step (d) of the migration: "drained" only once no producer writes to the
// topic. Each kind of producer writes to a partition of its own while the
// mirror runs; migrate drain must say "not drained", naming each partition
// with what shows its producer; once they stop, drained. Then status names
// the worker, and once it stops, the flow is stopped and drain says so at
// once.
func TestDrainSeesLiveProducers(t *testing.T) {
	src, tgt := clusters(t)
	kafka := onKafka()
	var writers []drainWriter
	for _, w := range drainWriters {
		if w.skip != nil {
			if why := w.skip(); why != "" {
				if os.Getenv("CI") == "true" && (kafka || w.name != "Java KafkaProducer") {
					t.Fatalf("%s under CI: %s", w.name, why)
				}
				t.Logf("without %s: %s", w.name, why)
				continue
			}
		}
		writers = append(writers, w)
	}
	topic, alias := uniq(t, "drain-live"), uniq(t, "drain-src")
	src.createTopic(t, topic, int32(len(drainWriters)), nil)
	cfg := flowConfig(t, side{alias: alias, addr: src.Addr}, side{alias: uniq(t, "drain-tgt"), addr: tgt.Addr}, fmt.Sprintf(`    topicsPattern: %q
    sourceConnector:
      config:
        replication.policy.class: identity
`, topic))
	worker := runWorker(t, cfg)

	var stops []func(*testing.T)
	for i, w := range writers {
		stops = append(stops, w.start(t, src.Addr, topic, int32(i)))
	}
	code, out := runs(t, time.Minute, "migrate", "drain", "-c", cfg, "--topic", topic, "--quiet-window", "3s", "--timeout", "6s", "--interval", "200ms")
	if code != 1 || !strings.Contains(out, fmt.Sprintf("%d partitions are still written to: stop their producers", len(writers))) {
		t.Fatalf("drain while %d producers write: exit %d\n%s", len(writers), code, out)
	}
	for i, w := range writers {
		line := lastLine(out, fmt.Sprintf("  - %s[%d] on %q: ", topic, i, alias))
		for _, s := range w.shows(kafka) {
			if !strings.Contains(line, s) {
				t.Errorf("%s: the drain names %s[%d] without %q: %q", w.name, topic, i, s, line)
			}
		}
		if w.hides != nil {
			for _, s := range w.hides(kafka) {
				if strings.Contains(line, s) {
					t.Errorf("%s: the drain names %s[%d] with %q: %q", w.name, topic, i, s, line)
				}
			}
		}
	}

	for _, stop := range stops {
		stop(t)
	}
	code, out = runs(t, 2*time.Minute, "migrate", "drain", "-c", cfg, "--topic", topic, "--quiet-window", "3s", "--timeout", "90s", "--interval", "200ms")
	if code != 0 || !strings.Contains(out, "drained: everything on "+topic+" is on the target and nothing wrote to it for 3s") {
		t.Fatalf("drain once the producers stopped: exit %d\n%s", code, out)
	}

	flow := func() status.Flow {
		t.Helper()
		code, out := runs(t, time.Minute, "status", "-c", cfg, "--json", "--log-level", "error")
		var r status.Report
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || len(r.Flows) != 1 {
			t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
		}
		return r.Flows[0]
	}
	f := flow()
	if len(f.Workers) != 1 || len(f.Workers[0].Holds[topic]) != len(drainWriters) || f.LastProgress == nil || f.State != status.StateCaughtUp {
		t.Errorf("status with the worker running: state %q, workers %+v, last progress %v", f.State, f.Workers, f.LastProgress)
	}
	if err := worker.cmd.Process.Signal(sigterm); err != nil {
		t.Fatal(err)
	}
	if code := worker.exit(t, time.Minute); code != 0 {
		t.Fatalf("kmirror run exited %d after SIGTERM:\n%s", code, worker.output())
	}
	if f := flow(); f.State != status.StateStopped || f.StateReason != status.ReasonNoWorker || f.Workers == nil || len(f.Workers) != 0 {
		t.Errorf("status with no worker: state %q (%s), workers %+v", f.State, f.StateReason, f.Workers)
	}
	code, out = runs(t, time.Minute, "migrate", "drain", "-c", cfg, "--topic", topic)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("flow %s->%s: stopped: no kmirror worker runs this flow", alias, uniq(t, "drain-tgt"))) {
		t.Errorf("drain with no worker: exit %d\n%s", code, out)
	}
}

// lastLine is the last line of out that starts with prefix, or "".
func lastLine(out, prefix string) string {
	found := ""
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			found = l
		}
	}
	return found
}

func kcatSkip() string {
	if _, err := exec.LookPath("kcat"); err != nil {
		return "no kcat (.ci/run installs Debian's): " + err.Error()
	}
	return ""
}

// startKcat writes 5 records a second with kcat, one process a record, as
// a shell loop does (kcat -P reads its input to the end before it sends).
func startKcat(t *testing.T, brokers, topic string, p int32) func(*testing.T) {
	t.Helper()
	return every(200*time.Millisecond, "kcat", func(_ context.Context, n int) error {
		cmd := exec.Command("kcat", "-P", "-b", brokers, "-t", topic, "-p", fmt.Sprint(p))
		cmd.Stdin = strings.NewReader(fmt.Sprintf("kcat/%d\n", n))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
}

// every calls write with n = 0, 1, … every interval until stopped; the
// stop it returns fails the test on write's first error (one that comes
// of the stop itself aside).
func every(interval time.Duration, what string, write func(ctx context.Context, n int) error) func(*testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for n := 0; ; n++ {
			if err := write(ctx, n); err != nil && ctx.Err() == nil {
				done <- err
				return
			}
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-tick.C:
			}
		}
	}()
	return func(t *testing.T) {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// startJavaWriter runs the Java KafkaProducer (DrainProducer.java).
func startJavaWriter(t *testing.T, brokers, topic string, p int32) func(*testing.T) {
	t.Helper()
	return startProcess(t, javaProgram("DrainProducer.java", brokers, topic, fmt.Sprint(p)), "STARTED")
}

// startProcess starts a producer process and waits for its ready line.
// Stopping it closes its standard input and waits for it to exit 0.
func startProcess(t *testing.T, cmd *exec.Cmd, ready string) func(*testing.T) {
	t.Helper()
	stdin, stdout, stderr := pipeProcess(t, cmd)
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	deadline := time.After(time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before %q:\n%s", cmd.Path, ready, stderr.String())
			}
			if l == ready {
				break wait
			}
		case <-deadline:
			t.Fatalf("%s printed no %q within a minute:\n%s", cmd.Path, ready, stderr.String())
		}
	}
	exited := make(chan error, 1)
	go func() {
		for range lines {
		}
		exited <- cmd.Wait()
	}()
	return func(t *testing.T) {
		t.Helper()
		stdin.Close()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("%s: %v\n%s", cmd.Path, err, stderr.String())
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s did not stop within a minute:\n%s", cmd.Path, stderr.String())
		}
	}
}

// kgoWriter is a franz-go producer in this process that writes a record
// every interval.
func kgoWriter(interval time.Duration, opts ...kgo.Opt) func(t *testing.T, brokers, topic string, p int32) func(*testing.T) {
	return func(t *testing.T, brokers, topic string, p int32) func(*testing.T) {
		t.Helper()
		cl := newWriterClient(t, brokers, opts...)
		return every(interval, fmt.Sprintf("franz-go writer of %s[%d]", topic, p), func(ctx context.Context, n int) error {
			return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "kgo/%d", n)}).FirstErr()
		})
	}
}

// startOpenTransaction writes three records in a transaction that stays
// open until stopped, which commits it.
func startOpenTransaction(t *testing.T, brokers, topic string, p int32) func(*testing.T) {
	t.Helper()
	cl := newWriterClient(t, brokers, kgo.TransactionalID(uniq(t, "drain-open-tx")), kgo.TransactionTimeout(2*time.Minute))
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "tx/%d", n)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return func(t *testing.T) {
		t.Helper()
		testbed.EndTransaction(t, ctx, cl, true)
		cl.Close()
	}
}

// newWriterClient is a franz-go producer client that writes to the
// partition each record names.
func newWriterClient(t *testing.T, brokers string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
