package main_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// The workers' tests copy 3 topics of 8 partitions: enough partitions for
// three workers to share, few enough to read back quickly.
const (
	bedTopics     = 3
	bedPartitions = 8
)

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

func (p tp) String() string { return fmt.Sprintf("%s[%d]", p.topic, p.partition) }

// workerBed is a source and a target dev-cluster, each its own process,
// and the configuration that the workers of one deployment share.
type workerBed struct {
	source, target string
	srcAlias       string // the source's alias, which names the progress topic
	topics         []string
	config         string
	parts          []tp

	mu      sync.Mutex
	workers []*proc // every worker started, in order
}

// newWorkerBed starts the source and target, as dev-cluster processes on
// kfake, or on the package's shared Apache Kafka clusters; extra are more
// lines of the flow's config.
func newWorkerBed(t *testing.T, extra ...string) *workerBed {
	t.Helper()
	b := &workerBed{srcAlias: "source"}
	t.Cleanup(func() { b.keepLogs(t) })
	for i := range bedTopics {
		name := uniq(t, fmt.Sprintf("crash-%d", i))
		b.topics = append(b.topics, name)
		for p := range int32(bedPartitions) {
			b.parts = append(b.parts, tp{name, p})
		}
	}
	// session.timeout.ms is kfake's minimum (and Kafka's
	// group.min.session.timeout.ms): a killed worker's partitions are
	// taken over 6 s after its last heartbeat. kfake, unlike Kafka, never
	// expires a member that died while it waited in JoinGroup: it stays in
	// the group until a rebalance times out without it, and each join
	// renews that timeout. rebalance.timeout.ms as short as the session
	// makes such a worker's partitions wait about as long as any killed
	// worker's.
	mirror := fmt.Sprintf(`    topicsPattern: %q
    sourceConnector:
      tasksMax: 4
      config:
        replication.policy.class: identity
        session.timeout.ms: 6000
        heartbeat.interval.ms: 1000
        rebalance.timeout.ms: 6000
`, strings.Join(b.topics, ", ")) + strings.Join(extra, "")
	if onKafka() {
		src, tgt := clusters(t)
		b.source, b.target = src.Addr, tgt.Addr
		for _, name := range b.topics {
			src.createTopic(t, name, bedPartitions, nil)
		}
		b.srcAlias = uniq(t, "crash-src")
		b.config = flowConfig(t, side{alias: b.srcAlias, addr: b.source}, side{alias: "crash-tgt", addr: b.target}, mirror)
		return b
	}
	args := []string{"--cluster-id", "source-id"}
	for _, name := range b.topics {
		args = append(args, "--topic", fmt.Sprintf("%s:%d", name, bedPartitions))
	}
	_, b.source, _ = devCluster(t, args...)
	_, b.target, _ = devCluster(t, "--cluster-id", "target-id")
	b.config = filepath.Join(t.TempDir(), "kmirror.yaml")
	if err := os.WriteFile(b.config, []byte(testbed.NativeConfigAt(b.source, b.target, mirror)), 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

// sharing waits until the workers, by their logs, share every partition
// between them, each copying some.
func (b *workerBed) sharing(t *testing.T, workers []*proc, within time.Duration) {
	t.Helper()
	testbed.WaitFor(t, within, fmt.Sprintf("%d workers to share the partitions", len(workers)), func() bool {
		sum := 0
		for _, w := range workers {
			n := owning(w.output())
			if n == 0 {
				return false
			}
			sum += n
		}
		return sum == len(b.parts)
	})
}

// worker starts one more worker of the deployment.
func (b *workerBed) worker(t *testing.T) *proc {
	t.Helper()
	p := start(t, "run", "-c", b.config, "--http", "")
	b.mu.Lock()
	b.workers = append(b.workers, p)
	b.mu.Unlock()
	return p
}

// keepLogs saves the output of every worker of a failed test under
// $KMIRROR_ARTIFACTS/<test>/worker-N.log, or logs where it is.
func (b *workerBed) keepLogs(t *testing.T) {
	if !t.Failed() {
		return
	}
	root := os.Getenv("KMIRROR_ARTIFACTS")
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "kmirror-workers-"); err != nil {
			t.Log(err)
			return
		}
	}
	dir := filepath.Join(root, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Log(err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, p := range b.workers {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("worker-%02d.log", i)), []byte(p.output()+"\n"), 0o644); err != nil {
			t.Log(err)
			return
		}
	}
	t.Logf("the logs of the %d workers started are in %s", len(b.workers), dir)
}

// load writes records to every partition of the bed, round robin, at a
// steady rate, until stopped. Each record's value names its partition and
// its sequence number in that partition, which is also its source offset
// (the producer is idempotent and writes one partition in order).
type load struct {
	cl     *kgo.Client
	parts  []tp
	rate   int
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	written map[tp]int64
	total   int64
	err     error
}

func startLoad(t *testing.T, brokers string, parts []tp, rate int) *load {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cl: cl, parts: parts, rate: rate, cancel: cancel, done: make(chan struct{}), written: map[tp]int64{}}
	go l.run(ctx)
	t.Cleanup(func() { l.stop(); cl.Close() })
	return l
}

func (l *load) run(ctx context.Context) {
	defer close(l.done)
	began := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	next := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.mu.Lock()
		n := min(int64(time.Since(began).Seconds()*float64(l.rate))-l.total, 5000)
		var recs []*kgo.Record
		for range n {
			p := l.parts[next%len(l.parts)]
			next++
			seq := l.written[p]
			l.written[p]++
			recs = append(recs, &kgo.Record{Topic: p.topic, Partition: p.partition,
				Key:     []byte(strconv.FormatInt(seq%97, 10)),
				Value:   fmt.Appendf(nil, "%s/%d/%d", p.topic, p.partition, seq),
				Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.FormatInt(seq, 10))}}})
		}
		l.total += n
		l.mu.Unlock()
		if len(recs) == 0 {
			continue
		}
		// The batch is counted as written: stopping the load waits for it
		// rather than cancel it, so that what was counted is what the
		// source holds (a canceled produce may or may not have landed).
		pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := l.cl.ProduceSync(pctx, recs...).FirstErr()
		pcancel()
		if err != nil {
			l.mu.Lock()
			l.err = fmt.Errorf("produce to the source: %w", err)
			l.mu.Unlock()
			return
		}
	}
}

// stop stops writing and returns what was written per partition.
func (l *load) stop() map[tp]int64 {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.written)
}

// progress is how many records have been handed to the producer so far,
// and the first produce error.
func (l *load) progress() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.err
}

// startWorkers starts n workers and waits until they run.
func startWorkers(t *testing.T, b *workerBed, n int) []*proc {
	t.Helper()
	ws := make([]*proc, n)
	for i := range ws {
		ws[i] = b.worker(t)
	}
	for _, w := range ws {
		w.waitFor(t, "running; stop with SIGINT or SIGTERM", 30*time.Second)
	}
	return ws
}

// pause lets the workers copy for d between two stops, failing the test if
// the producer failed meanwhile.
func pause(t *testing.T, l *load, d time.Duration) {
	t.Helper()
	<-time.After(d)
	if _, err := l.progress(); err != nil {
		t.Fatal(err)
	}
}

// finishLoad lets the producer write at least n records, stops it and
// returns what it wrote per partition.
func finishLoad(t *testing.T, l *load, n int64) map[tp]int64 {
	t.Helper()
	testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("%d records written", n), func() bool {
		done, err := l.progress()
		return done >= n || err != nil
	})
	written := l.stop()
	if _, err := l.progress(); err != nil {
		t.Fatal(err)
	}
	return written
}

// checkRunning fails the test if a worker exited on its own.
func checkRunning(t *testing.T, workers []*proc) {
	t.Helper()
	for i, w := range workers {
		select {
		case <-w.done:
			t.Fatalf("worker %d exited (%v):\n%s", i, w.err, w.output())
		default:
		}
	}
}

// finalOutput is the whole output of a process that exited, once the
// reader has taken its last lines.
func finalOutput(t *testing.T, p *proc) string {
	t.Helper()
	<-p.done
	var out string
	testbed.WaitFor(t, 5*time.Second, "the last output lines", func() bool {
		prev := out
		out = p.output()
		return out == prev && out != ""
	})
	return out
}

var partitionsField = regexp.MustCompile(`\bpartitions=(\d+)`)

// owning returns how many partitions a worker may have been writing when it
// stopped, from its log: those of its last completed rebalance, plus those
// it started copying since (their rebalance line comes after).
func owning(output string) int {
	owned, starting := 0, 0
	for _, l := range strings.Split(output, "\n") {
		m := partitionsField.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		switch {
		case strings.Contains(l, `msg="workers rebalanced"`):
			owned, starting = n, 0
		case strings.Contains(l, "msg=copying"):
			starting += n
		}
	}
	return owned + starting
}

func TestOwning(t *testing.T) {
	for _, c := range []struct {
		name, log string
		want      int
	}{
		{"nothing yet", `level=INFO msg="running; stop with SIGINT or SIGTERM"`, 0},
		{"rebalanced", `level=INFO msg=copying topic=crash-0 partitions=3
level=INFO msg="workers rebalanced" generation=2 partitions=8 gained=8 gave_up=0`, 8},
		{"starting to copy more", `level=INFO msg="workers rebalanced" generation=2 partitions=8 gained=8 gave_up=0
level=INFO msg=copying topic=crash-0 partitions=2
level=INFO msg=copying topic=crash-1 partitions=2`, 12},
		{"gave some up", `level=INFO msg="workers rebalanced" generation=2 partitions=24 gained=24 gave_up=0
level=INFO msg="stopped copying: handed to another worker; progress persisted" topic=crash-0 partitions=8
level=INFO msg="workers rebalanced" generation=3 partitions=16 gained=0 gave_up=8`, 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := owning(c.log); got != c.want {
				t.Errorf("owning = %d, want %d", got, c.want)
			}
		})
	}
}
