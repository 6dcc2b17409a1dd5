package batch

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FetchOptions shape a Fetcher's requests. A zero field takes its default.
type FetchOptions struct {
	MaxWait           time.Duration // fetch.max.wait.ms (default 5s)
	MinBytes          int32         // fetch.min.bytes (default 1)
	MaxBytes          int32         // fetch.max.bytes, per request (default 50 MiB)
	PartitionMaxBytes int32         // max.partition.fetch.bytes (default 1 MiB)
	ReadCommitted     bool          // isolation.level
	Log               *slog.Logger
	// Lookup is the client leaders are looked up through; nil is the
	// fetching client. franz-go keeps a copy of every metadata answer in
	// the client that asked for it, a few hundred bytes per partition: a
	// process that fetches through many clients looks up through one, so
	// that the copy is held once.
	Lookup *kgo.Client
}

// Defaults of FetchOptions, as the Java consumer's and franz-go's.
const (
	defaultMaxWait           = 5 * time.Second
	defaultMaxBytes          = 50 << 20
	defaultPartitionMaxBytes = 1 << 20
)

// How a partition whose fetch failed with a retriable error is retried: its
// leader is looked up again after a backoff that doubles from retryMin up to
// retryMax while the failures go on; one that has not fetched for
// stuckAfter is logged at Warn, once.
const (
	retryMin   = 100 * time.Millisecond
	retryMax   = 2 * time.Second
	stuckAfter = 30 * time.Second
	// lookupTimeout bounds one metadata request, retries inside franz-go
	// included.
	lookupTimeout = 15 * time.Second
)

// Fetched is one fetch's answer for one partition.
type Fetched struct {
	Topic     string
	Partition int32
	// Offset is the offset this fetch asked for.
	Offset int64
	// Records are the partition's record batches as the broker sent them:
	// they may begin before Offset (with the batch holding it) and end
	// with a partial batch.
	Records []byte
	// Aborted are the aborted transactions among Records, read_committed
	// only.
	Aborted                             []kmsg.FetchResponseTopicPartitionAbortedTransaction
	HighWatermark, LastStable, LogStart int64
	// Err is set for OffsetOutOfRange and the other errors the caller
	// must see; the partition then waits for SetOffset or Remove.
	Err error
}

// Fetcher fetches the record batches of the partitions it is given, as
// the broker sends them, over a franz-go client's connections: one fetch
// loop per leader broker, each asking for all of its partitions in one
// full (sessionless) FetchRequest, and holding what it fetched until Poll
// takes it. A loop fetches again when the caller polls again, done with
// what it took: the caller's work and the next fetch do not overlap, and
// the Fetcher holds no answer beside the one the caller works on. It
// replaces franz-go's consumer where the records must stay as bytes.
//
// Retriable errors (a leader moved, a broker went away) are handled
// inside: the partition's leader is looked up again and it is fetched from
// the same offset. Only OffsetOutOfRange and errors the caller must act
// on are returned, in Fetched.Err.
//
// Requests carry both topic names and IDs, so that whatever Fetch version
// franz-go negotiates (names up to v12, IDs from v13) the broker finds its
// topics; answers by ID are named from metadata.
//
// Not handled: leader epochs (CurrentLeaderEpoch is -1, so a log truncated
// by an unclean election is not detected, nor a diverging epoch); a topic
// deleted and created again under its name, which is fetched from the
// same offsets once metadata gives its new ID; fetching from followers
// (no rack); fetch sessions.
type Fetcher struct {
	cl  *kgo.Client
	o   FetchOptions
	log *slog.Logger

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    chan struct{}
	// lookup wakes the leader lookup; ready wakes Poll.
	lookup chan struct{}
	ready  chan struct{}

	mu sync.Mutex
	// gen is the last generation given to a cursor: a partition's
	// generation changes with every Add, SetOffset and Remove, and what
	// was fetched under an older one is dropped.
	gen     uint64
	cursors map[topicPartition]*cursor
	brokers map[int32]*brokerLoop
	// queue holds what the loops fetched, in the order they fetched it,
	// until Poll takes it.
	queue []held
	// names maps topic IDs to names, from metadata, for Fetch v13+, whose
	// responses name topics by ID; ids the other way.
	names map[[16]byte]string
	ids   map[string][16]byte
}

type topicPartition struct {
	topic     string
	partition int32
}

// cursor is where the fetcher stands in one partition.
type cursor struct {
	gen    uint64
	offset int64 // the next offset to fetch
	// leader is the broker to fetch from, -1 while it is to be looked up
	// (at retryAt).
	leader  int32
	retryAt time.Time
	// stopped says an error was returned: the partition waits for
	// SetOffset or Remove.
	stopped bool
	// fails counts the retriable failures in a row, the first at since;
	// warned says the streak was logged at Warn.
	fails  int
	since  time.Time
	warned bool
}

type held struct {
	Fetched
	gen uint64
}

// NewFetcher returns a Fetcher that fetches through cl, a client of the
// source cluster, which stays the caller's: Close does not close it.
func NewFetcher(cl *kgo.Client, o FetchOptions) *Fetcher {
	if o.MaxWait <= 0 {
		o.MaxWait = defaultMaxWait
	}
	if o.MinBytes <= 0 {
		o.MinBytes = 1
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.PartitionMaxBytes <= 0 {
		o.PartitionMaxBytes = defaultPartitionMaxBytes
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Lookup == nil {
		o.Lookup = cl
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fetcher{
		cl: cl, o: o, log: o.Log.With("component", "fetcher"),
		cancel: cancel, closed: make(chan struct{}),
		lookup: make(chan struct{}, 1), ready: make(chan struct{}, 1),
		cursors: map[topicPartition]*cursor{}, brokers: map[int32]*brokerLoop{},
		names: map[[16]byte]string{}, ids: map[string][16]byte{},
	}
	f.wg.Go(func() { f.lookupLeaders(ctx) })
	return f
}

// Add starts fetching partitions, each from its offset; a partition
// already fetched moves to the new offset, as with SetOffset.
func (f *Fetcher) Add(offsets map[string]map[int32]int64) {
	f.mu.Lock()
	for topic, parts := range offsets {
		for p, offset := range parts {
			tp := topicPartition{topic, p}
			c := f.cursors[tp]
			if c == nil {
				c = &cursor{leader: -1}
				f.cursors[tp] = c
			}
			f.move(c, offset)
		}
	}
	f.mu.Unlock()
}

// Remove stops fetching partitions: no Fetched of theirs is returned by a
// Poll that begins after Remove returns.
func (f *Fetcher) Remove(partitions map[string][]int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for topic, parts := range partitions {
		for _, p := range parts {
			delete(f.cursors, topicPartition{topic, p})
		}
	}
}

// SetOffset moves a partition to offset, and fetches it again if an error
// had stopped it; nothing fetched before is returned after. A partition
// not added, or removed, stays so.
func (f *Fetcher) SetOffset(topic string, partition int32, offset int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.cursors[topicPartition{topic, partition}]; c != nil {
		f.move(c, offset)
	}
}

// move points c at offset under a new generation. f.mu is held.
func (f *Fetcher) move(c *cursor, offset int64) {
	f.gen++
	c.gen, c.offset, c.stopped = f.gen, offset, false
	if b := f.brokers[c.leader]; b != nil {
		wake(b.wake)
	} else {
		wake(f.lookup)
	}
}

// Poll returns what has been fetched, in the order it was fetched (so each
// partition's in offset order), waiting until there is something, or
// returning nil when ctx ends or the Fetcher is closed. Calling it says the
// caller is done with what the last Poll returned: only then do the loops
// that fetched it fetch again, so that the Fetcher holds no answer beside
// the one the caller works on.
func (f *Fetcher) Poll(ctx context.Context) []Fetched {
	f.release()
	for {
		if out := f.take(); len(out) > 0 {
			return out
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.closed:
			return nil
		case <-f.ready:
		}
	}
}

// take empties the queue, dropping what was fetched under an older
// generation. When nothing is left to return, it releases the loops that
// waited for it to be taken.
func (f *Fetcher) take() []Fetched {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Fetched
	for _, q := range f.queue {
		if c := f.cursors[topicPartition{q.Topic, q.Partition}]; c != nil && c.gen == q.gen {
			out = append(out, q.Fetched)
		}
	}
	f.queue = nil
	for _, b := range f.brokers {
		if b.held {
			b.held, b.taken = false, true
		}
	}
	if len(out) == 0 {
		f.releaseLocked()
	}
	return out
}

// release lets the loops whose answers were taken fetch again.
func (f *Fetcher) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.releaseLocked()
}

// releaseLocked is release with f.mu held.
func (f *Fetcher) releaseLocked() {
	for _, b := range f.brokers {
		if b.taken {
			b.taken = false
			wake(b.wake)
		}
	}
}

// Close stops every fetch and goroutine and waits for them; a Poll waiting
// returns nil. It is idempotent.
func (f *Fetcher) Close() {
	f.closeOnce.Do(func() {
		close(f.closed)
		f.cancel()
		f.wg.Wait()
	})
}

// retry schedules another leader lookup for a partition whose fetch failed
// with a retriable error. f.mu is held.
func (f *Fetcher) retry(tp topicPartition, c *cursor, err error, now time.Time) {
	c.leader = -1
	if c.fails == 0 {
		c.since = now
	}
	c.fails++
	c.retryAt = now.Add(backoff(c.fails))
	f.log.Debug("fetch retried", "topic", tp.topic, "partition", tp.partition, "offset", c.offset, "failures", c.fails, "err", err)
	if !c.warned && now.Sub(c.since) >= stuckAfter {
		c.warned = true
		f.log.Warn("partition not fetched for a while, retrying", "topic", tp.topic, "partition", tp.partition,
			"offset", c.offset, "for", now.Sub(c.since).Round(time.Second), "err", err)
	}
	wake(f.lookup)
}

// backoff is the wait before trying again after the n-th failure in a row
// (the first is 1): from retryMin, doubling, up to retryMax, with a jitter
// of ±20% so that partitions spread out. The fetcher and the producer use
// it.
func backoff(n int) time.Duration {
	d := retryMax
	if n < 8 {
		d = min(retryMin<<max(n-1, 0), retryMax)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
