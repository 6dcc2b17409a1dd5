package main_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// Consumers written by others than this project perform the consumer-first
// switch while producers keep writing: franz-go, librdkafka (through
// confluent-kafka for Python) and the Java KafkaConsumer, each with the
// classic group protocol and with KIP-848's consumer protocol.

// librdkafkaPython is the Python interpreter with confluent-kafka that the
// librdkafka consumer runs on: $KMIRROR_PYTHON (.ci/run makes a virtual
// environment with PyPI's confluent-kafka, whose librdkafka has KIP-848's
// consumer), or Debian's, whose python3-confluent-kafka (librdkafka 2.0)
// has the classic protocol only.
func librdkafkaPython() string {
	if p := os.Getenv("KMIRROR_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// javaDir holds the Java programs the tests run in source-file mode.
var javaDir = filepath.Join("..", "..", "internal", "testbed", "apache", "java")

// consumed is one record a switching consumer processed.
type consumed struct {
	offset int64
	seq    int64 // the producer's sequence number in its partition
}

// switchRun is one consumer of a group, on one cluster, until stop.
type switchRun struct {
	mu   sync.Mutex
	recs map[int32][]consumed
	stop func(t *testing.T)
}

func (r *switchRun) add(p int32, offset int64, value string) error {
	i := strings.LastIndex(value, "/")
	seq, err := strconv.ParseInt(value[i+1:], 10, 64)
	if i < 0 || err != nil {
		return fmt.Errorf("record %d of partition %d: value %q does not end in /seq", offset, p, value)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs[p] = append(r.recs[p], consumed{offset, seq})
	return nil
}

// seen returns a copy of what the consumer processed, by partition.
func (r *switchRun) seen() map[int32][]consumed {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int32][]consumed{}
	for p, rs := range r.recs {
		out[p] = append([]consumed(nil), rs...)
	}
	return out
}

// switchClient starts a consumer that reads topic as group on brokers with
// the group protocol ("classic" or "consumer"), commits synchronously what
// it processed after every poll, and leaves the group when stopped. reset
// is auto.offset.reset, isolation isolation.level.
type switchClient struct {
	name string
	// skip says why the client cannot run on this bed with protocol, or "".
	skip  func(protocol string) string
	start func(t *testing.T, brokers, group, topic, protocol, reset, isolation string) *switchRun
}

var switchClients = []switchClient{
	{name: "franz-go", skip: func(string) string { return "" }, start: startKgo},
	{name: "librdkafka", skip: librdkafkaSkip, start: func(t *testing.T, brokers, group, topic, protocol, reset, isolation string) *switchRun {
		return startProgram(t, exec.Command(librdkafkaPython(), "testdata/switch_client.py", brokers, group, topic, protocol, reset, isolation))
	}},
	{name: "java", skip: javaSkip, start: func(t *testing.T, brokers, group, topic, protocol, reset, isolation string) *switchRun {
		return startProgram(t, javaProgram("SwitchConsumer.java", brokers, group, topic, protocol, reset, isolation))
	}},
}

func librdkafkaSkip(protocol string) string {
	py := librdkafkaPython()
	out, err := exec.Command(py, "-c", "import confluent_kafka; print(confluent_kafka.libversion()[0])").Output()
	if err != nil {
		return fmt.Sprintf("%s has no confluent_kafka (.ci/run sets KMIRROR_PYTHON to one that has): %v", py, err)
	}
	v := strings.TrimSpace(string(out))
	// librdkafka's KIP-848 consumer is generally available from 2.10.0.
	if protocol == "consumer" && !versionAtLeast(v, 2, 10) {
		return fmt.Sprintf("librdkafka %s (%s) has no KIP-848 consumer protocol (2.10.0 or later has; .ci/run sets KMIRROR_PYTHON to one that has)", v, py)
	}
	return ""
}

func javaSkip(string) string {
	if !onKafka() {
		return fmt.Sprintf("the Java client comes with the Apache Kafka jars, and %s is not set", testbed.KafkaEnv)
	}
	return ""
}

// versionAtLeast reports whether the dotted version v is at least
// major.minor.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// javaProgram is a command that runs one of the test bed's Java programs
// in source-file mode with the Kafka jars on the class path.
func javaProgram(name string, args ...string) *exec.Cmd {
	return exec.Command("java", append(append(testbed.JavaArgs(testbed.KafkaJars(), "256m"), filepath.Join(javaDir, name)), args...)...)
}

// startKgo runs the switching consumer with franz-go in this process.
func startKgo(t *testing.T, brokers, group, topic, protocol, reset, isolation string) *switchRun {
	t.Helper()
	start := kgo.NewOffset().AtStart()
	if reset == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(start)}
	if protocol == "consumer" {
		opts = append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	}
	if isolation == "read_committed" {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	r := &switchRun{recs: map[int32][]consumed{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		defer cl.Close() // leaves the group
		for ctx.Err() == nil {
			pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			fs := cl.PollFetches(pctx)
			pcancel()
			var failed error
			fs.EachError(func(_ string, _ int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					failed = err
				}
			})
			fs.EachRecord(func(rec *kgo.Record) {
				if err := r.add(rec.Partition, rec.Offset, string(rec.Value)); err != nil {
					failed = err
				}
			})
			// Commit what was processed even when asked to stop meanwhile.
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := cl.CommitUncommittedOffsets(cctx)
			ccancel()
			if failed == nil && err != nil {
				failed = fmt.Errorf("commit: %w", err)
			}
			if failed != nil {
				done <- failed
				return
			}
		}
		done <- nil
	}()
	var once sync.Once
	r.stop = func(t *testing.T) {
		t.Helper()
		once.Do(cancel)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("franz-go consumer: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("franz-go consumer did not stop within a minute")
		}
	}
	t.Cleanup(func() { once.Do(cancel) })
	return r
}

// startProgram runs a switching consumer as a process that speaks the
// programs' protocol: it prints "R <partition> <offset> <value>" per
// record, and closes the consumer and prints "CLOSED" when its standard
// input ends.
func startProgram(t *testing.T, cmd *exec.Cmd) *switchRun {
	t.Helper()
	stdin, stdout, stderr := pipeProcess(t, cmd)
	r := &switchRun{recs: map[int32][]consumed{}}
	var mu sync.Mutex
	var bad []string
	closed := false
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			f := strings.SplitN(line, " ", 4)
			switch {
			case f[0] == "R" && len(f) == 4:
				p, err1 := strconv.ParseInt(f[1], 10, 32)
				o, err2 := strconv.ParseInt(f[2], 10, 64)
				err := r.add(int32(p), o, f[3])
				if err1 != nil || err2 != nil || err != nil {
					mu.Lock()
					bad = append(bad, line)
					mu.Unlock()
				}
			case line == "CLOSED":
				mu.Lock()
				closed = true
				mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan error, 1)
	go func() {
		<-read
		exited <- cmd.Wait()
	}()
	r.stop = func(t *testing.T) {
		t.Helper()
		stdin.Close()
		select {
		case err := <-exited:
			mu.Lock()
			defer mu.Unlock()
			if err != nil || !closed || len(bad) > 0 {
				t.Fatalf("%s: %v, closed %v, unreadable lines %q\n%s", filepath.Base(cmd.Path), err, closed, bad, stderr.String())
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s did not stop within a minute:\n%s", filepath.Base(cmd.Path), stderr.String())
		}
	}
	t.Cleanup(func() { stdin.Close() })
	return r
}

// pipeProcess starts a client program with pipes to its standard input
// and output, its standard error kept; it dies with the test's process,
// and is killed at the test's end.
func pipeProcess(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, io.Reader, *strings.Builder) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return stdin, stdout, stderr
}

// liveProducer writes to every partition of a topic, a record per
// partition every few milliseconds, each valued "partition/seq" with seq
// counting up from 0 in its partition (after a prefix, when it has one).
type liveProducer struct {
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	next   map[int32]int64
}

func startProducer(t *testing.T, c *bedCluster, topic string, parts int32) *liveProducer {
	t.Helper()
	return startProducerAs(t, c, topic, parts, "", nil)
}

// startProducerAs starts a liveProducer whose values begin with prefix,
// and whose sequence numbers go on from from (nil: from 0): the producers
// of an application that moved from another cluster.
func startProducerAs(t *testing.T, c *bedCluster, topic string, parts int32, prefix string, from map[int32]int64) *liveProducer {
	t.Helper()
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	ctx, cancel := context.WithCancel(context.Background())
	l := &liveProducer{cancel: cancel, done: make(chan error, 1), next: maps.Clone(from)}
	if l.next == nil {
		l.next = map[int32]int64{}
	}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				l.done <- nil
				return
			case <-tick.C:
			}
			l.mu.Lock()
			var recs []*kgo.Record
			for p := range parts {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%s%d/%d", prefix, p, l.next[p])})
			}
			l.mu.Unlock()
			// Not under ctx: a batch is written whole, or the test fails.
			pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
			err := cl.ProduceSync(pctx, recs...).FirstErr()
			pcancel()
			if err != nil {
				l.done <- fmt.Errorf("produce: %w", err)
				return
			}
			l.mu.Lock()
			for _, r := range recs {
				l.next[r.Partition]++
			}
			l.mu.Unlock()
		}
	}()
	t.Cleanup(cancel)
	return l
}

// stop stops the producer and returns how many records it wrote to each
// partition.
func (l *liveProducer) stop(t *testing.T) map[int32]int64 {
	t.Helper()
	l.cancel()
	if err := <-l.done; err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int32]int64{}
	for p, n := range l.next {
		out[p] = n
	}
	return out
}

// everyPartition reports whether seen holds at least n records of each of
// parts partitions.
func everyPartition(seen map[int32][]consumed, parts int32, n int) bool {
	for p := range parts {
		if len(seen[p]) < n {
			return false
		}
	}
	return true
}

// The consumer-first switch with live producers: a group consumes a
// source topic while a producer writes to it; kmirror mirrors the topic
// and syncs the group; the consumer stops on the source, `migrate ready`
// says yes, the consumer starts on the target with the same group id
// while the producer still writes on the source, then the producer stops.
// Across both phases, every record the producer wrote is processed exactly
// once, on every partition: the first record on the target is the one
// after the last committed on the source.
func TestSwitchInterop(t *testing.T) {
	t.Logf("bed: %s", bedName())
	for _, c := range switchClients {
		for _, protocol := range []string{"classic", "consumer"} {
			t.Run(c.name+"/"+protocol, func(t *testing.T) { switchOver(t, c, switchCase{protocol: protocol}) })
		}
	}
}

// The same switch with the flow in exactly-once mode and read_committed
// consumers on both sides: the target's transaction markers take offsets,
// and the translated group offsets still land each consumer on the record
// after its last one.
func TestSwitchInteropExactlyOnce(t *testing.T) {
	t.Logf("bed: %s", bedName())
	for _, c := range switchClients {
		t.Run(c.name, func(t *testing.T) { switchOver(t, c, switchCase{protocol: "classic", eos: true}) })
	}
}

// The switch and back: after the target phase, `migrate rollback` refuses
// while the consumer runs on the target, then commits the group's target
// offsets on the source, translated back; the consumer starts on the
// source again (auto.offset.reset=latest, so that a missing commit would
// lose records) while the producer still writes. Across the three phases
// every record is processed exactly once, in order.
func TestRollbackInterop(t *testing.T) {
	t.Logf("bed: %s", bedName())
	for _, c := range switchClients[:2] { // franz-go and librdkafka
		for _, eos := range []bool{false, true} {
			name := c.name
			if eos {
				name += "/exactly-once"
			}
			t.Run(name, func(t *testing.T) { switchOver(t, c, switchCase{protocol: "classic", eos: eos, back: true}) })
		}
	}
}

// switchCase is one way to run the switch: the group protocol, the flow in
// exactly-once mode with read_committed consumers (eos), and a rollback to
// the source after the target phase (back).
type switchCase struct {
	protocol  string
	eos, back bool
}

// switchOver runs the consumer-first switch with client c as sc says.
func switchOver(t *testing.T, c switchClient, sc switchCase) {
	const parts = 4
	protocol := sc.protocol
	if why := c.skip(protocol); why != "" {
		// .ci/run installs librdkafka with KIP-848 for both beds;
		// the Java client comes with the Kafka bed's jars.
		if c.name == "librdkafka" && os.Getenv("CI") == "true" {
			t.Fatalf("%s under CI: %s", c.name, why)
		}
		t.Skip(why)
	}
	if protocol == "consumer" {
		kip848(t)
	}
	src, tgt := clusters(t)
	topic, group := uniq(t, "switch-orders"), uniq(t, "switch-app")
	srcAlias, tgtAlias := uniq(t, "swsrc"), uniq(t, "swtgt")
	src.createTopic(t, topic, parts, nil)
	mirror, isolation := groupSyncMirror(topic, group, false), "read_uncommitted"
	if sc.eos {
		mirror = strings.Replace(mirror, "replication.policy.class: identity\n",
			"replication.policy.class: identity\n        exactly.once.source.support: enabled\n        transaction.boundary.interval.ms: 200\n", 1)
		isolation = "read_committed"
	}
	cfg := flowConfig(t, side{alias: srcAlias, addr: src.Addr}, side{alias: tgtAlias, addr: tgt.Addr}, mirror)
	w := runWorker(t, cfg)
	prod := startProducer(t, src, topic, parts)

	// On the source, until the consumer processed records of every
	// partition.
	onSource := c.start(t, src.Addr, group, topic, protocol, "earliest", isolation)
	testbed.WaitFor(t, 2*time.Minute, "the consumer to process records of every partition on the source", func() bool {
		return everyPartition(onSource.seen(), parts, 20)
	})
	onSource.stop(t)
	testbed.WaitFor(t, 2*time.Minute, "migrate ready to exit 0", func() bool {
		code, _ := runs(t, time.Minute, "migrate", "ready", "-c", cfg, "--group", group)
		return code == 0
	})

	// On the target, while the producer still writes on the source, then
	// (without a rollback) after it stopped.
	onTarget := c.start(t, tgt.Addr, group, topic, protocol, "latest", isolation)
	phases := []*switchRun{onSource, onTarget}
	testbed.WaitFor(t, 2*time.Minute, "the consumer to process records of every partition on the target", func() bool {
		return everyPartition(onTarget.seen(), parts, 1)
	})
	// The worker saw the consumers on the target and recorded the switch.
	waitPhase(t, cfg, "group "+group, "consumers-switched", "ready", "switched")
	if sc.back {
		testbed.WaitFor(t, 2*time.Minute, "the consumer to process more records on the target", func() bool {
			return everyPartition(onTarget.seen(), parts, 20)
		})
		code, out := runs(t, time.Minute, "migrate", "rollback", "-c", cfg, "--group", group, "--dry-run")
		if code != 1 || !strings.Contains(out, "consumers are active on the target") {
			t.Fatalf("migrate rollback with the consumer running on the target: exit %d, want 1 and why:\n%s", code, out)
		}
		onTarget.stop(t)
		testbed.WaitFor(t, 2*time.Minute, "migrate rollback to exit 0", func() bool {
			code, out = runs(t, time.Minute, "migrate", "rollback", "-c", cfg, "--group", group)
			return code == 0
		})
		if !strings.Contains(out, "ROLLED BACK") {
			t.Fatalf("migrate rollback exited 0 and says:\n%s", out)
		}
		waitPhase(t, cfg, "group "+group, "rolled-back", "switched", "rolled-back")
		t.Logf("migrate rollback:\n%s", out)
		again := c.start(t, src.Addr, group, topic, protocol, "latest", isolation)
		phases = append(phases, again)
		testbed.WaitFor(t, 2*time.Minute, "the consumer to process records of every partition on the source again", func() bool {
			return everyPartition(again.seen(), parts, 1)
		})
	}
	last := phases[len(phases)-1]
	written := prod.stop(t)
	testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("the consumer to process everything written on the source (%v)", written), func() bool {
		seen := last.seen()
		for p, n := range written {
			rs := seen[p]
			if len(rs) == 0 || rs[len(rs)-1].seq < n-1 {
				return false
			}
		}
		return true
	})
	last.stop(t)
	var seen []map[int32][]consumed
	for _, r := range phases {
		seen = append(seen, r.seen())
	}
	checkOnce(t, written, seen...)
	stopWorker(t, w)
}

// checkOnce fails the test unless, on every partition, the phases (on the
// source, on the target, …) processed the producer's records
// 0…written-1 each exactly once and in order, each phase starting at the
// record after the last one of the phase before.
func checkOnce(t *testing.T, written map[int32]int64, phases ...map[int32][]consumed) {
	t.Helper()
	var total, dups, lost int64
	for p, n := range written {
		count := map[int64]int{}
		var all []consumed
		for _, ph := range phases {
			all = append(all, ph[p]...)
		}
		for i, r := range all {
			count[r.seq]++
			if i > 0 && r.seq <= all[i-1].seq {
				t.Errorf("partition %d: #%d processed after #%d", p, r.seq, all[i-1].seq)
			}
		}
		for seq := range n {
			switch c := count[seq]; {
			case c == 0:
				lost++
			case c > 1:
				dups += int64(c - 1)
			}
		}
		total += n
		var ranges []string
		for i, ph := range phases {
			rs := ph[p]
			if len(rs) == 0 {
				t.Errorf("partition %d: no records in phase %d; want some in every phase", p, i+1)
				continue
			}
			if i > 0 {
				if prev := phases[i-1][p]; len(prev) > 0 && rs[0].seq != prev[len(prev)-1].seq+1 {
					t.Errorf("partition %d: phase %d ended with #%d (offset %d), phase %d began with #%d (offset %d), want #%d",
						p, i, prev[len(prev)-1].seq, prev[len(prev)-1].offset, i+1, rs[0].seq, rs[0].offset, prev[len(prev)-1].seq+1)
				}
			}
			ranges = append(ranges, fmt.Sprintf("#%d…#%d", rs[0].seq, rs[len(rs)-1].seq))
		}
		t.Logf("partition %d: %d written; phases %s", p, n, strings.Join(ranges, ", "))
	}
	if dups != 0 || lost != 0 {
		t.Errorf("%d records written: %d duplicates, %d lost across the switches", total, dups, lost)
	}
}
