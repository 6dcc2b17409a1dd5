package main_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// Issue #16's acceptance with real processes, on kfake and Apache Kafka:
// three workers, SIGKILLed and frozen (SIGSTOP past the session timeout,
// then SIGCONT) while a plain producer and a transactional one write.
//
//	go test -count=1 ./cmd/kmirror -run 'ExactlyOnce|Freezes' -v

const (
	eosSlots = 8
	eosKills = 20
	// freezes is how many times a worker is frozen, for freezeFor: longer
	// than the session timeout (6 s), so that its slots or partitions are
	// given to the others while it still holds its open writes.
	freezes   = 5
	freezeFor = 9 * time.Second
)

var eosConfig = fmt.Sprintf(`        exactly.once.source.support: enabled
        transaction.boundary.interval.ms: 200
        transaction.slots: %d
`, eosSlots)

// In exactly-once mode, a read_committed reader of every target partition
// sees each committed source record exactly once and in order, and no
// aborted one, after 20 kills and 5 freezes.
func TestExactlyOnceSurvivesKillsAndFreezes(t *testing.T) {
	b := newWorkerBed(t, eosConfig)
	workers := startWorkers(t, b, 3)
	b.sharingSlots(t, workers, time.Minute)
	plainParts, txnParts := b.parts[:2*bedPartitions], b.parts[2*bedPartitions:]
	l := startLoad(t, b.source, plainParts, 2000)
	tl := startTxnLoad(t, b.source, txnParts, 500)
	began := time.Now()

	stops := make([]bool, eosKills+freezes) // true: a freeze
	for i := range freezes {
		stops[i] = true
	}
	rand.Shuffle(len(stops), func(i, j int) { stops[i], stops[j] = stops[j], stops[i] })
	for k, freeze := range stops {
		pause(t, l, copyFor)
		i := rand.IntN(len(workers))
		if freeze {
			freezeWorker(t, workers[i])
		} else {
			if err := workers[i].cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			finalOutput(t, workers[i])
			workers[i] = b.worker(t)
		}
		b.sharingSlots(t, workers, 2*time.Minute)
		t.Logf("stop %d at %s: worker %d %s", k+1, time.Since(began).Round(time.Millisecond), i, map[bool]string{true: "frozen", false: "killed"}[freeze])
	}
	written := finishLoad(t, l, 1)
	for p, n := range tl.stop(t) {
		written[p] = n
	}
	b.waitCaughtUp(t, written, 2*time.Minute)
	checkRunning(t, workers)
	rep := b.compare(t, written, func(tp, int64) bool { return false })
	t.Logf("exactly-once: kills=%d freezes=%d records=%d (%d in transactions, a third of them aborted) duplicates=%d rewinds=%d missing=%d (%s)",
		eosKills, freezes, rep.records, tl.committed(), rep.duplicates, rep.rewinds, rep.missing, time.Since(began).Round(time.Second))
	if rep.duplicates != 0 || rep.rewinds != 0 || rep.missing != 0 {
		t.Errorf("a read_committed reader sees %d duplicates, %d rewinds, %d missing records", rep.duplicates, rep.rewinds, rep.missing)
	}
}

// The same freezes in the default mode: nothing is lost, and the figures
// show the duplicates a worker that writes past its lease leaves (the
// README's limit of the default mode).
func TestFreezesInDefaultMode(t *testing.T) {
	b := newWorkerBed(t)
	workers := startWorkers(t, b, 3)
	b.sharing(t, workers, time.Minute)
	l := startLoad(t, b.source, b.parts, 4000)
	began := time.Now()
	for k := range freezes {
		pause(t, l, copyFor)
		i := rand.IntN(len(workers))
		freezeWorker(t, workers[i])
		b.sharing(t, workers, 2*time.Minute)
		t.Logf("freeze %d at %s: worker %d", k+1, time.Since(began).Round(time.Millisecond), i)
	}
	written := finishLoad(t, l, 1)
	b.waitCaughtUp(t, written, 2*time.Minute)
	checkRunning(t, workers)
	rep := b.compare(t, written, func(tp, int64) bool { return true })
	t.Logf("default mode: freezes=%d records=%d duplicates=%d rewinds=%d missing=%d (%s)",
		freezes, rep.records, rep.duplicates, rep.rewinds, rep.missing, time.Since(began).Round(time.Second))
	if rep.missing != 0 {
		t.Errorf("%d records lost", rep.missing)
	}
}

// freezeWorker stops a worker's process for freezeFor, then lets it go on.
func freezeWorker(t *testing.T, w *proc) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	<-time.After(freezeFor) // the freeze itself
	if err := w.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

var slotsField = regexp.MustCompile(`msg="workers rebalanced".*\bslots=(\d+)`)

// ownedSlots is how many slots a worker owns by its last rebalance, or
// -1 when it dropped them since.
func ownedSlots(output string) int {
	n := -1
	for _, l := range strings.Split(output, "\n") {
		if m := slotsField.FindStringSubmatch(l); m != nil {
			n, _ = strconv.Atoi(m[1])
		} else if strings.Contains(l, "dropped the slots") {
			n = -1
		}
	}
	return n
}

// sharingSlots waits until the workers, by their logs, share every slot,
// each owning some.
func (b *workerBed) sharingSlots(t *testing.T, workers []*proc, within time.Duration) {
	t.Helper()
	testbed.WaitFor(t, within, fmt.Sprintf("%d workers to share the %d slots", len(workers), eosSlots), func() bool {
		sum := 0
		for _, w := range workers {
			n := ownedSlots(w.output())
			if n <= 0 {
				return false
			}
			sum += n
		}
		return sum == eosSlots
	})
}

// txnLoad writes transactions to partitions of the bed until stopped: each
// to one partition, every third one aborted. The records of committed
// transactions are numbered per partition like load's, so that a
// read_committed reader of the source sees "topic/p/0", "topic/p/1", …;
// aborted ones say so.
type txnLoad struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	written map[tp]int64
	total   int64
	err     error
}

func startTxnLoad(t *testing.T, brokers string, parts []tp, rate int) *txnLoad {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(uniq(t, "eos-writer")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &txnLoad{cl: cl, cancel: cancel, done: make(chan struct{}), written: map[tp]int64{}}
	go l.run(ctx, parts, rate)
	t.Cleanup(func() { l.cancel(); <-l.done; cl.Close() })
	return l
}

func (l *txnLoad) run(ctx context.Context, parts []tp, rate int) {
	defer close(l.done)
	const perTxn = 20
	tick := time.NewTicker(time.Second * perTxn / time.Duration(rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p := parts[i%len(parts)]
		commit := i%3 != 2
		if err := l.cl.BeginTransaction(); err != nil {
			l.fail(err)
			return
		}
		l.mu.Lock()
		next := l.written[p]
		l.mu.Unlock()
		for j := range int64(perTxn) {
			v := fmt.Sprintf("%s/%d/%d", p.topic, p.partition, next+j)
			if !commit {
				v = fmt.Sprintf("%s/%d/aborted-%d-%d", p.topic, p.partition, i, j)
			}
			l.cl.Produce(context.Background(), &kgo.Record{Topic: p.topic, Partition: p.partition, Value: []byte(v)}, nil)
		}
		// Not canceled by ctx: a transaction counted must be whole.
		ectx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := l.cl.Flush(ectx)
		if err == nil {
			err = l.cl.EndTransaction(ectx, kgo.TransactionEndTry(commit))
		}
		cancel()
		if err != nil {
			l.fail(err)
			return
		}
		if commit {
			l.mu.Lock()
			l.written[p] += perTxn
			l.total += perTxn
			l.mu.Unlock()
		}
	}
}

func (l *txnLoad) fail(err error) {
	l.mu.Lock()
	l.err = fmt.Errorf("transactional producer: %w", err)
	l.mu.Unlock()
}

func (l *txnLoad) committed() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// stop stops writing and returns the committed records per partition.
func (l *txnLoad) stop(t *testing.T) map[tp]int64 {
	t.Helper()
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		t.Fatal(l.err)
	}
	out := map[tp]int64{}
	for p, n := range l.written {
		out[p] = n
	}
	return out
}
