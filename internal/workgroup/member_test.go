package workgroup_test

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kmirror/kmirror/internal/testbed"
	"github.com/kmirror/kmirror/internal/workgroup"
)

type tp struct {
	topic string
	p     int32
}

// ledger is who holds which partition, across all workers of a test. It
// fails the test when a partition is handed to a worker while another one
// may still write it.
type ledger struct {
	t      *testing.T
	mu     sync.Mutex
	topics map[string]int32
	owner  map[tp]*worker
	moves  int // partitions a worker gave up or lost
}

func (l *ledger) setTopics(ts map[string]int32) {
	l.mu.Lock()
	l.topics = ts
	l.mu.Unlock()
}

type worker struct {
	name   string
	l      *ledger
	m      *workgroup.Member
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *worker) Topics() map[string]int32 {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return maps.Clone(w.l.topics)
}

func (w *worker) Assigned(_ context.Context, ps workgroup.Partitions) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	for t, parts := range ps {
		for _, p := range parts {
			if prev := w.l.owner[tp{t, p}]; prev != nil && prev != w && prev.m.Valid() {
				w.l.t.Errorf("%s[%d] handed to %s while %s may still write it", t, p, w.name, prev.name)
			}
			w.l.owner[tp{t, p}] = w
		}
	}
}

func (w *worker) release(ps workgroup.Partitions) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	for t, parts := range ps {
		for _, p := range parts {
			if w.l.owner[tp{t, p}] == w {
				delete(w.l.owner, tp{t, p})
				w.l.moves++
			}
		}
	}
}

func (w *worker) Revoked(_ context.Context, ps workgroup.Partitions) { w.release(ps) }
func (w *worker) Lost(_ context.Context, ps workgroup.Partitions)    { w.release(ps) }

// held returns what each worker holds.
func (l *ledger) held() map[string][]tp {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]tp{}
	for k, w := range l.owner {
		out[w.name] = append(out[w.name], k)
	}
	return out
}

// balanced tells whether the named workers hold every partition between
// them, each within one of the others.
func (l *ledger) balanced(names ...string) bool {
	l.mu.Lock()
	total := 0
	for _, n := range l.topics {
		total += int(n)
	}
	l.mu.Unlock()
	held := l.held()
	sum, lo, hi := 0, total, 0
	for _, n := range names {
		c := len(held[n])
		sum += c
		lo, hi = min(lo, c), max(hi, c)
	}
	return sum == total && len(held) == len(names) && hi-lo <= 1
}

func start(t *testing.T, l *ledger, c *testbed.Cluster, name string, opts workgroup.Options) *worker {
	t.Helper()
	w := &worker{name: name, l: l, done: make(chan struct{})}
	w.m = workgroup.New(opts, w, slog.New(slog.DiscardHandler))
	cl := c.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		defer close(w.done)
		if err := w.m.Run(ctx, cl); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-w.done; w.m.Stop() })
	return w
}

// leave stops a worker cleanly: it gives up its partitions and leaves.
func (w *worker) leave(t *testing.T) {
	w.cancel()
	<-w.done
	w.l.mu.Lock()
	var mine []tp
	for k, o := range w.l.owner {
		if o == w {
			mine = append(mine, k)
		}
	}
	w.l.mu.Unlock()
	ps := workgroup.Partitions{}
	for _, k := range mine {
		ps[k.topic] = append(ps[k.topic], k.p)
	}
	w.release(ps)
	if err := w.m.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWorkersShareAndHandOver(t *testing.T) {
	c := testbed.NewCluster(t, kfake.GroupMinSessionTimeout(100*time.Millisecond))
	opts := workgroup.Options{Group: workgroup.Name("src", "tgt"), SessionTimeout: 1500 * time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond, RebalanceTimeout: 5 * time.Second}
	l := &ledger{t: t, owner: map[tp]*worker{}, topics: map[string]int32{"a": 6, "b": 3}}
	within := 20 * time.Second

	w1 := start(t, l, c, "w1", opts)
	testbed.WaitFor(t, within, "one worker holds every partition", func() bool { return l.balanced("w1") })
	w2 := start(t, l, c, "w2", opts)
	w3 := start(t, l, c, "w3", opts)
	testbed.WaitFor(t, within, "three workers share the partitions", func() bool { return l.balanced("w1", "w2", "w3") })

	t.Run("a worker that leaves hands over only its own partitions", func(t *testing.T) {
		before := l.held()
		movesBefore := l.moves
		w3.leave(t)
		testbed.WaitFor(t, within, "two workers share the partitions", func() bool { return l.balanced("w1", "w2") })
		after := l.held()
		for _, n := range []string{"w1", "w2"} {
			for _, k := range before[n] {
				if !slices.Contains(after[n], k) {
					t.Errorf("%s[%d] moved away from %s, which stayed", k.topic, k.p, n)
				}
			}
		}
		if got, want := l.moves-movesBefore, len(before["w3"]); got != want {
			t.Errorf("%d partitions moved, want %d (those of the worker that left)", got, want)
		}
	})

	t.Run("a new topic moves nothing else", func(t *testing.T) {
		before := l.held()
		movesBefore := l.moves
		l.setTopics(map[string]int32{"a": 6, "b": 3, "c": 3})
		w1.m.Rejoin()
		testbed.WaitFor(t, within, "the new topic is shared", func() bool { return l.balanced("w1", "w2") })
		after := l.held()
		for n, ks := range before {
			for _, k := range ks {
				if !slices.Contains(after[n], k) {
					t.Errorf("%s[%d] moved away from %s", k.topic, k.p, n)
				}
			}
		}
		if l.moves != movesBefore {
			t.Errorf("%d partitions moved for a new topic", l.moves-movesBefore)
		}
	})

	t.Run("a worker that dies is taken over after its lease ran out", func(t *testing.T) {
		start(t, l, c, "w4", opts)
		testbed.WaitFor(t, within, "three workers share the partitions", func() bool { return l.balanced("w1", "w2", "w4") })
		// Dead: no more heartbeats, no leave. The ledger's check fails the
		// test if its partitions go elsewhere while its lease holds.
		w2.cancel()
		<-w2.done
		w2.m.Stop()
		testbed.WaitFor(t, within, "the others hold the dead worker's partitions", func() bool {
			held := l.held()
			return len(held["w2"]) == 0 && len(held["w1"])+len(held["w4"]) == 12
		})
		if w2.m.Valid() {
			t.Error("the dead worker still believes it may write")
		}
	})
}

func TestNameIsPerFlow(t *testing.T) {
	if a, b := workgroup.Name("a", "b"), workgroup.Name("c", "b"); a == b {
		t.Fatalf("two flows share group %q", a)
	}
	if got := workgroup.Name("src", "tgt"); got != "kmirror.src.tgt" {
		t.Fatalf("group name %q", got)
	}
}

// A session timeout the broker refuses ends Run with an error that names
// the key, rather than a worker that retries forever.
func TestRefusedSessionTimeout(t *testing.T) {
	c := testbed.NewCluster(t) // kfake, like Kafka, refuses sessions under 6 s
	m := workgroup.New(workgroup.Options{Group: "g", SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond, RebalanceTimeout: time.Second},
		&worker{name: "w", l: &ledger{t: t, owner: map[tp]*worker{}}}, slog.New(slog.DiscardHandler))
	defer m.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := m.Run(ctx, c.Client(t))
	if err == nil || !strings.Contains(err.Error(), "session.timeout.ms=1000") {
		t.Fatalf("Run ended with %v, want the refused session.timeout.ms named", err)
	}
}
