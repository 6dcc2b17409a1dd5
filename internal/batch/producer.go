package batch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProducerOptions shape a Producer.
type ProducerOptions struct {
	// Timeout is a produce request's timeout (request.timeout.ms),
	// default 30s. A partition whose topic the target does not know for
	// longer fails.
	Timeout time.Duration
	// MaxBuffered bounds the bytes of batches held (queued or in
	// flight), buffer.memory, default 32 MiB; Produce blocks beyond it.
	// A batch larger than it is taken when nothing else is held.
	MaxBuffered int64
	// MaxQueued bounds the bytes of batches taken and not yet sent,
	// default 16 MiB; Produce blocks beyond it, as beyond MaxBuffered.
	// Batches waiting for a request add latency and memory, not
	// throughput: the caller can fetch them again as fast as they go.
	MaxQueued int64
	// MaxInFlight is the number of produce requests in flight at once to
	// one broker, and of batches of one partition,
	// 1..5 (idempotence keeps order for at most 5); default 5
	// (max.in.flight.requests.per.connection). A partition's count
	// starts at its first batch not answered: a batch answered behind it
	// still counts.
	MaxInFlight int
	// MaxRequestBytes bounds the batches of one produce request
	// (max.request.size), unless one batch is larger; default 16 MiB.
	MaxRequestBytes int32
	// DeliveryTimeout, when above zero, is how long a batch may wait to be
	// written (delivery.timeout.ms): past it, a retriable error fails its
	// partition instead of being retried. Zero retries until Close.
	DeliveryTimeout time.Duration
	Log             *slog.Logger
}

// The defaults of ProducerOptions, Kafka's producer's.
const (
	defaultTimeout     = 30 * time.Second
	defaultMaxBuffered = 32 << 20
	defaultMaxQueued   = 16 << 20
	maxInFlight        = 5
)

// ErrClosed is the answer to the batches a Producer closed before it had
// them written, and Produce's error once it is closed.
var ErrClosed = errors.New("batch producer closed")

// Producer is an idempotent producer of record batches built elsewhere: it
// writes each batch's records section as it is, with its own producer id,
// epoch and sequences in the header (acks=all), as Kafka's idempotent
// producer does with batches of its own. A retry resends the very same
// bytes: the target answers a batch it already has with the offset it gave
// it then, as long as it is among the producer's last 5 batches of the
// partition, which MaxInFlight keeps it.
//
// What it owns: the producer id and epoch, each partition's sequence and
// its unanswered batches. It writes to one target cluster through its
// client's connections: a partition's batches go to its leader over one
// connection, in order, at most one per request. Its goroutines end with
// Close.
//
// Kafka (2.5+, KIP-360) accepts any sequence from a producer id it holds no
// state of for a partition: a new id, or one whose state expired
// (producer.id.expiration.ms, counted from the records' own timestamps).
// So a partition keeps one batch in flight until one is written, at first,
// with a new id and after a retry: a later batch cannot be written before
// one that failed.
//
// What it does not handle: a batch written whose answer was lost lands
// twice if the target forgets the producer before the retry (its state
// expired, or it asked for a new producer id meanwhile), as with Kafka's
// own producer; a partition whose state the target forgot while it had a
// later batch written and an earlier one not (its batches were in flight
// when the state expired) fails, as it cannot keep their order. A
// partition that fails stays failed: the caller starts over with a new
// Producer.
type Producer struct {
	cl     *kgo.Client
	opts   ProducerOptions
	log    *slog.Logger
	cancel context.CancelFunc
	stop   chan struct{} // closed by Close
	once   sync.Once
	wg     sync.WaitGroup
	// tend wakes the goroutine that gets producer ids and metadata.
	tend chan struct{}
	// deliver wakes the goroutine that calls the batches' done.
	deliver chan struct{}

	mu     sync.Mutex
	closed bool
	parts  map[tp]*partition
	topics map[string][16]byte // the topic ids the target gave
	// senders write the requests of each broker, by broker id.
	senders map[int32]*sender
	id      Stamp // the producer id and epoch; no sequence
	hasID   bool
	// resetting says a partition found this producer's state lost: no
	// batch is sent until every request is answered and a new producer
	// id replaces the old one.
	resetting bool
	lost      error // what told that it was lost
	// idRetryAt and metaRetryAt put off a failed InitProducerID or
	// metadata request; idFails and metaFails count those in a row.
	idRetryAt, metaRetryAt time.Time
	idFails, metaFails     int
	// aborting counts the Aborts under way: nothing is sent, nothing
	// retried.
	aborting int
	// fatal, once the client is closed under the Producer or the target
	// refuses it a producer id, fails every batch.
	fatal    error
	requests int   // produce requests in flight
	buffered int64 // bytes of the batches held
	unsent   int64 // bytes of the batches held and never sent
	// room is closed, and replaced, when buffered or unsent shrinks;
	// answered when batches are answered.
	room, answered chan struct{}
	// answers are what is answered, in order, to pass to the batches'
	// done on the delivering goroutine.
	answers []*pending
}

// tp names a target partition.
type tp struct {
	topic     string
	partition int32
}

// partition is what the Producer holds of one target partition.
type partition struct {
	tp
	// batches are the batches queued and not yet delivered, in Produce
	// order: sent or not, and answered ones behind an unanswered one.
	batches []*pending
	// next is the index in batches of the next batch to send: every
	// batch before it is in flight or answered.
	next     int
	inflight int
	// sentTo is the broker of the batches in flight: a partition's
	// batches go to one broker at a time, over one connection, in order.
	sentTo int32
	leader int32 // -1 until known
	seq    int32 // the sequence of the next batch queued
	// blocked says a batch met a retriable error: nothing more is sent
	// until every batch in flight is answered, retryAt has passed and
	// metadata was refreshed; then every unanswered batch is sent again.
	blocked bool
	// probe keeps one batch in flight until one is written: while the
	// target may hold no state of this producer id for the partition (a
	// new id, or a retry), as Kafka accepts any sequence from a producer
	// it does not know (KIP-360), a batch sent after one that failed
	// could be written before it.
	probe   bool
	retryAt time.Time
	tries   int
	// unknownSince is when the target first said it does not know the
	// partition, zero while it does.
	unknownSince time.Time
	// err, once set, answers every batch of the partition not written.
	err error
	// queued counts the batches Produce took, delivered those whose done
	// returned: Flush waits until the second reaches the first.
	queued, delivered uint64
}

// pending is a batch queued and not yet delivered.
type pending struct {
	part *partition
	// w is the batch Produce took, stamped in place for its
	// producer id, epoch and seq once it is first sent, and sent again as
	// it is on a retry.
	w []byte
	// unsent says w counts in the Producer's unsent bytes: it was never
	// sent.
	unsent  bool
	seq     int32
	stamped Stamp
	state   state
	base    int64
	err     error
	done    func(base int64, err error)
	// at is when Produce took the batch, for DeliveryTimeout.
	at time.Time
}

type state uint8

const (
	queued   state = iota // to send, again after a retriable error
	inFlight              // in a request not yet answered
	answered              // base or err holds the answer
)

// NewProducer makes a producer that writes through cl, a client of the
// target cluster. Its first Produce gets it a producer id.
func NewProducer(cl *kgo.Client, o ProducerOptions) *Producer {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = defaultMaxBuffered
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = defaultMaxQueued
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = defaultMaxRequestBytes
	}
	if o.MaxInFlight <= 0 || o.MaxInFlight > maxInFlight {
		o.MaxInFlight = maxInFlight
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{
		cl:       cl,
		opts:     o,
		log:      o.Log.With("component", "batch producer"),
		cancel:   cancel,
		stop:     make(chan struct{}),
		tend:     make(chan struct{}, 1),
		deliver:  make(chan struct{}, 1),
		parts:    map[tp]*partition{},
		topics:   map[string][16]byte{},
		senders:  map[int32]*sender{},
		room:     make(chan struct{}),
		answered: make(chan struct{}),
	}
	p.wg.Add(2)
	go p.tending(ctx)
	go p.delivering()
	return p
}

// Produce queues b for the target topic/partition. done is called exactly
// once per batch, in Produce order within a partition, with the offset
// the target gave the batch's first record, or an error. After a
// partition's first error every later batch of it fails too (it is
// stopped; the caller starts over with a new Producer). Produce blocks
// while MaxBuffered bytes are held, or MaxQueued bytes wait for a
// request, until ctx ends (then returns ctx's error and does not call
// done).
//
// Produce takes b: it stamps b's header in place and holds b until done is
// called, so the caller neither changes nor reuses b's bytes meanwhile
// (one batch's bytes go to one Produce). done
// runs on the Producer's goroutine, one call at a time; it may call
// Produce but not Flush or Close, and should return soon. Produce returns
// an error, and does not call done, for a b that is not one whole record
// batch of magic 2, and with ErrClosed once the Producer is closed.
func (p *Producer) Produce(ctx context.Context, topic string, partition int32, b Batch, done func(base int64, err error)) error {
	if err := whole(b); err != nil {
		return fmt.Errorf("produce to %s[%d]: %w", topic, partition, err)
	}
	w := []byte(b)
	size := int64(len(w))
	key := tp{topic, partition}
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		part := p.partition(key)
		if part.err != nil {
			// A stopped partition answers at once, behind what it
			// has yet to deliver.
			part.queued++
			part.batches = append(part.batches, &pending{part: part, state: answered, err: part.err, done: done})
			p.pop(part)
			p.mu.Unlock()
			return nil
		}
		if p.buffered == 0 || p.buffered+size <= p.opts.MaxBuffered && (p.unsent == 0 || p.unsent+size <= p.opts.MaxQueued) {
			break
		}
		room := p.room
		p.mu.Unlock()
		select {
		case <-room:
		case <-p.stop:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
	part := p.parts[key]
	p.buffered += size
	p.unsent += size
	part.queued++
	part.batches = append(part.batches, &pending{part: part, w: w, unsent: true, seq: part.seq, stamped: Stamp{ID: -1}, done: done, at: time.Now()})
	part.seq = nextSequence(part.seq, b.Records())
	if !p.hasID || part.leader < 0 {
		wake(p.tend)
	} else {
		p.wakeSender(part.leader)
	}
	p.mu.Unlock()
	return nil
}

// whole says why b is not one whole record batch of magic 2, or nil.
func whole(b Batch) error {
	switch {
	case len(b) < HeaderSize:
		return fmt.Errorf("batch of %d bytes, shorter than a header", len(b))
	case b[offMagic] != 2:
		return ErrMagic
	case int64(int32(binary.BigEndian.Uint32(b[offLength:])))+offLeaderEpoch != int64(len(b)):
		return fmt.Errorf("batch of %d bytes says it has %d", len(b), int32(binary.BigEndian.Uint32(b[offLength:]))+offLeaderEpoch)
	}
	return nil
}

// partition returns the Producer's partition of key, made on first use.
func (p *Producer) partition(key tp) *partition {
	part := p.parts[key]
	if part == nil {
		part = &partition{tp: key, leader: -1, sentTo: -1, probe: true}
		if p.fatal != nil {
			part.err = fmt.Errorf("produce to %s[%d]: %w", key.topic, key.partition, p.fatal)
		}
		p.parts[key] = part
	}
	return part
}

// nextSequence is the sequence that follows a batch of n records at seq:
// sequences wrap past math.MaxInt32 to 0, as Kafka's producer and broker
// count them (DefaultRecordBatch.incrementSequence).
func nextSequence(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

// Flush waits until every batch queued before it is answered (its done
// has returned), or ctx ends.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	want := map[*partition]uint64{}
	for _, part := range p.parts {
		if part.delivered < part.queued {
			want[part] = part.queued
		}
	}
	p.mu.Unlock()
	for {
		p.mu.Lock()
		for part, n := range want {
			if part.delivered >= n {
				delete(want, part)
			}
		}
		answered := p.answered
		p.mu.Unlock()
		if len(want) == 0 {
			return nil
		}
		select {
		case <-answered:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ErrAborted answers the batches Abort gave up on.
var ErrAborted = errors.New("batch producer: aborted before it was written")

// Abort gives up on every batch not written: once the requests in flight
// are answered — what they wrote is answered as written, what failed is
// not sent again — every batch left is answered with ErrAborted, and Abort
// returns when every answer is delivered, or ctx ends. The Producer goes
// on afterwards; the next batch of a partition whose aborted batch the
// target holds after all is written under a new producer id, as the
// target then expects another sequence.
func (p *Producer) Abort(ctx context.Context) error {
	p.mu.Lock()
	p.aborting++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.aborting--
		p.mu.Unlock()
		wake(p.tend)
	}()
	for {
		p.mu.Lock()
		if p.requests == 0 {
			for _, part := range p.parts {
				if p.first(part) != nil {
					p.fail(part, ErrAborted)
					p.pop(part)
				}
				if errors.Is(part.err, ErrAborted) {
					part.err, part.blocked = nil, false
				}
			}
			p.mu.Unlock()
			return p.Flush(ctx)
		}
		answered := p.answered
		p.mu.Unlock()
		select {
		case <-answered:
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops: batches not yet answered are answered with ErrClosed, those
// in flight too (the target may still write them). Idempotent; it must not
// be called from a done.
func (p *Producer) Close() {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cancel()
		close(p.stop)
		p.wg.Wait()

		// Nothing else runs now: what was answered is delivered first,
		// then the rest of each partition in order.
		p.mu.Lock()
		out := p.answers
		p.answers = nil
		for _, part := range p.parts {
			for _, pb := range part.batches {
				if pb.state != answered {
					pb.state, pb.err = answered, ErrClosed
				}
				out = append(out, pb)
			}
			part.batches = nil
		}
		p.buffered, p.unsent = 0, 0
		p.mu.Unlock()
		p.call(out)
	})
}
