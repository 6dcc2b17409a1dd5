package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// defaultMaxRequestBytes is MaxRequestBytes's default, far below the
// broker's socket.request.max.bytes (100 MiB).
const defaultMaxRequestBytes = 16 << 20

// sender writes the produce requests of one broker.
type sender struct {
	broker   int32
	wake     chan struct{}
	requests int // in flight, at most MaxInFlight
}

// request is a produce request carrying at most one batch per partition,
// as Kafka requires from v3.
type request struct {
	kmsg.ProduceRequest
	broker int32
	sent   []*pending
	at     map[string]int      // the index of each topic in Topics
	byID   map[[16]byte]string // the topics by the ids the request gives them
	noIDs  bool                // a topic's id is unknown: v12 at most
	taken  sync.Once
	issued chan struct{}
}

// SetVersion is called by kgo on the broker's goroutine that writes the
// requests pushed to it, one after the other: once it is called, a request
// pushed next is written after this one, on the same connection.
func (r *request) SetVersion(v int16) {
	r.ProduceRequest.SetVersion(v)
	r.taken.Do(func() { close(r.issued) })
}

// MaxVersion keeps the request below v13, which names topics by id only,
// when it has a topic whose id the target did not give.
func (r *request) MaxVersion() int16 {
	if r.noIDs {
		return 12
	}
	return r.ProduceRequest.MaxVersion()
}

func (r *request) add(topic string, id [16]byte, partition int32, pb *pending) {
	i, ok := r.at[topic]
	if !ok {
		i = len(r.Topics)
		r.at[topic] = i
		t := kmsg.NewProduceRequestTopic()
		t.Topic, t.TopicID = topic, id
		r.Topics = append(r.Topics, t)
		if id == ([16]byte{}) {
			r.noIDs = true
		} else {
			r.byID[id] = topic
		}
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, pb.w
	r.Topics[i].Partitions = append(r.Topics[i].Partitions, rp)
	r.sent = append(r.sent, pb)
}

// senderFor returns the sender of broker, starting it on first use.
// p.mu is held.
func (p *Producer) senderFor(ctx context.Context, broker int32) *sender {
	s := p.senders[broker]
	if s == nil && !p.closed {
		s = &sender{broker: broker, wake: make(chan struct{}, 1)}
		p.senders[broker] = s
		p.wg.Add(1)
		go p.sending(ctx, s)
	}
	return s
}

// wakeSender tells the sender of broker there may be batches to send.
// p.mu is held.
func (p *Producer) wakeSender(broker int32) {
	if s := p.senders[broker]; s != nil {
		wake(s.wake)
	}
}

// sending writes the requests of s's broker. kgo writes a broker's requests
// in the order they are pushed to it and the broker handles a connection's
// requests in order, so a partition's batches land in order; a request is
// pushed once kgo has taken the one before to write it.
func (p *Producer) sending(ctx context.Context, s *sender) {
	defer p.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for {
			p.mu.Lock()
			r := p.drain(s.broker)
			p.mu.Unlock()
			if r == nil {
				break
			}
			returned := make(chan struct{})
			p.wg.Add(1)
			go p.await(ctx, r, returned)
			select {
			case <-r.issued:
			case <-returned:
			case <-ctx.Done():
				return
			}
		}
	}
}

// drain makes a request of the next batch of every partition led by broker
// that may send one, or returns nil. p.mu is held.
func (p *Producer) drain(broker int32) *request {
	if p.closed || !p.hasID || p.resetting || p.aborting > 0 {
		return nil
	}
	if s := p.senders[broker]; s != nil && s.requests >= p.opts.MaxInFlight {
		return nil
	}
	var r *request
	size := 0
	for _, part := range p.parts {
		limit := p.opts.MaxInFlight
		if part.probe {
			limit = 1
		}
		if part.leader != broker || part.err != nil || part.blocked || (part.inflight > 0 && part.sentTo != broker) {
			continue
		}
		for part.next < len(part.batches) && part.batches[part.next].state != queued {
			part.next++
		}
		// A batch goes out only within limit batches of the first one
		// not answered, batches[0], whatever the order in which answers
		// are handled: the target keeps a producer's last 5 batches, so
		// a batch sent again is among them.
		if part.next == len(part.batches) || part.next >= limit {
			continue
		}
		pb := part.batches[part.next]
		if size > 0 && size+len(pb.w) > int(p.opts.MaxRequestBytes) {
			continue
		}
		if st := (Stamp{ID: p.id.ID, Epoch: p.id.Epoch, Sequence: pb.seq}); pb.stamped != st {
			// In place: Produce took the batch.
			Batch(pb.w).AppendFor(pb.w[:0], st)
			pb.stamped = st
		}
		if pb.unsent {
			p.unsent -= int64(len(pb.w))
			pb.unsent = false
			close(p.room)
			p.room = make(chan struct{})
		}
		if r == nil {
			r = &request{ProduceRequest: kmsg.NewProduceRequest(), broker: broker, at: map[string]int{}, byID: map[[16]byte]string{}, issued: make(chan struct{})}
			r.Acks = -1
			r.TimeoutMillis = int32(p.opts.Timeout.Milliseconds())
		}
		r.add(part.topic, p.topics[part.topic], part.partition, pb)
		pb.state = inFlight
		part.next++
		part.inflight++
		part.sentTo = broker
		size += len(pb.w)
	}
	if r != nil {
		p.requests++
		if s := p.senders[broker]; s != nil {
			s.requests++
		}
	}
	return r
}

// await sends r and handles its answer.
func (p *Producer) await(ctx context.Context, r *request, returned chan struct{}) {
	defer p.wg.Done()
	kresp, err := p.cl.Broker(int(r.broker)).Request(ctx, r)
	close(returned)
	resp, _ := kresp.(*kmsg.ProduceResponse)
	if err == nil && resp == nil {
		err = errors.New("no produce response")
	}
	p.answer(r, resp, err)
}

// errNoAnswer is a partition's error when a response leaves it out.
var errNoAnswer = errors.New("the produce response does not answer the partition")

// answer settles the batches of r with their partitions' answers, or with
// err, the request's error.
func (p *Producer) answer(r *request, resp *kmsg.ProduceResponse, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests--
	if s := p.senders[r.broker]; s != nil {
		s.requests--
		wake(s.wake)
	}
	if p.closed {
		return
	}
	if errors.Is(err, kgo.ErrClientClosed) {
		p.failAll(fmt.Errorf("produce: %w", err))
		return
	}
	got := map[tp]*kmsg.ProduceResponseTopicPartition{}
	if resp != nil {
		for i := range resp.Topics {
			t := &resp.Topics[i]
			name := t.Topic
			if name == "" { // v13 names topics by id
				name = r.byID[t.TopicID]
			}
			for j := range t.Partitions {
				got[tp{name, t.Partitions[j].Partition}] = &t.Partitions[j]
			}
		}
	}
	now := time.Now()
	for _, pb := range r.sent {
		part := pb.part
		part.inflight--
		if pb.state != inFlight {
			continue // answered when its partition failed
		}
		if err != nil {
			p.retry(part, pb, err, now)
			continue
		}
		rp := got[part.tp]
		if rp == nil {
			p.retry(part, pb, errNoAnswer, now)
			continue
		}
		perr := kerr.ErrorForCode(rp.ErrorCode)
		if perr != nil && rp.ErrorMessage != nil && *rp.ErrorMessage != "" {
			perr = fmt.Errorf("%w: %s", perr, *rp.ErrorMessage)
		}
		p.settle(part, pb, rp.BaseOffset, perr, now)
	}
	for _, pb := range r.sent {
		part := pb.part
		p.pop(part)
		if part.blocked && part.inflight == 0 {
			wake(p.tend)
		}
		if part.leader >= 0 {
			p.wakeSender(part.leader)
		}
	}
	if p.resetting && p.requests == 0 {
		wake(p.tend)
	}
}

// settle answers pb with base, or handles its partition's error. p.mu is
// held.
func (p *Producer) settle(part *partition, pb *pending, base int64, err error, now time.Time) {
	switch {
	case err == nil:
		pb.state, pb.base = answered, base
		part.tries, part.probe = 0, false
		part.unknownSince = time.Time{}
	case errors.Is(err, kerr.DuplicateSequenceNumber):
		p.fail(part, fmt.Errorf("produce to %s[%d]: the target has the batch at sequence %d but did not say at which offset: %w", part.topic, part.partition, pb.seq, err))
	case (errors.Is(err, kerr.OutOfOrderSequenceNumber) || errors.Is(err, kerr.UnknownProducerID)) && p.first(part) == pb && writtenAfter(part, pb):
		// The target wrote a later batch and lost the state that
		// would have placed this one before it.
		p.fail(part, fmt.Errorf("produce to %s[%d]: the target lost the producer's state after writing a later batch than the one at sequence %d: the order can no longer be kept: %w", part.topic, part.partition, pb.seq, err))
	case (errors.Is(err, kerr.OutOfOrderSequenceNumber) || errors.Is(err, kerr.UnknownProducerID)) && p.first(part) == pb:
		// The target lost this producer's state, as when
		// producer.id.expiration.ms passed on an idle partition: every
		// partition starts over with a new producer id.
		pb.state = queued
		if !p.resetting {
			p.resetting, p.lost = true, fmt.Errorf("%s[%d]: %w", part.topic, part.partition, err)
		}
	case errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID):
		if p.unknown(part, err, now) {
			p.retry(part, pb, err, now)
		}
	case errors.Is(err, kerr.OutOfOrderSequenceNumber) || errors.Is(err, kerr.UnknownProducerID):
		// An earlier batch failed: this one is sent again after it.
		p.retry(part, pb, err, now)
	case kerr.IsRetriable(err) && !errors.Is(err, kerr.CorruptMessage):
		// A corrupt batch would be as corrupt sent again.
		p.retry(part, pb, err, now)
	default:
		p.fail(part, fmt.Errorf("produce to %s[%d]: %w", part.topic, part.partition, err))
	}
}

// first returns the first batch of part not answered.
func (p *Producer) first(part *partition) *pending {
	for _, pb := range part.batches {
		if pb.state != answered {
			return pb
		}
	}
	return nil
}

// writtenAfter says a batch of part after pb is written.
func writtenAfter(part *partition, pb *pending) bool {
	after := false
	for _, x := range part.batches {
		if after && x.state == answered && x.err == nil {
			return true
		}
		after = after || x == pb
	}
	return false
}

// retry queues pb again: its partition sends nothing more until every
// batch it has in flight is answered, then refreshes its leader, after a
// backoff, and sends again every batch not answered, in order, with the
// same bytes. p.mu is held.
func (p *Producer) retry(part *partition, pb *pending, err error, now time.Time) {
	if p.aborting > 0 {
		p.fail(part, ErrAborted)
		return
	}
	if d := p.opts.DeliveryTimeout; d > 0 && now.Sub(pb.at) > d {
		p.fail(part, fmt.Errorf("produce to %s[%d]: not written within %s (delivery.timeout.ms): %w", part.topic, part.partition, d, err))
		return
	}
	pb.state = queued
	if part.blocked {
		return
	}
	part.blocked = true
	part.retryAt = now.Add(backoff(part.tries))
	part.tries++
	p.log.Debug("retrying a partition", "topic", part.topic, "partition", part.partition, "tries", part.tries, "err", err)
}

// unknown notes that the target does not know part, and fails it once
// that has lasted longer than Timeout; it reports whether part goes on.
// p.mu is held.
func (p *Producer) unknown(part *partition, err error, now time.Time) bool {
	if part.unknownSince.IsZero() {
		part.unknownSince = now
	}
	if now.Sub(part.unknownSince) <= p.opts.Timeout {
		return true
	}
	p.fail(part, fmt.Errorf("produce to %s[%d]: for %s: %w", part.topic, part.partition, now.Sub(part.unknownSince).Round(time.Millisecond), err))
	return false
}

// fail stops part: every batch of it not answered is answered with err,
// and so is every later one. p.mu is held; the caller pops part.
func (p *Producer) fail(part *partition, err error) {
	part.err = err
	part.blocked = false
	for _, pb := range part.batches {
		if pb.state != answered {
			pb.state, pb.err = answered, err
		}
	}
}

// failAll stops every partition, and those to come, with err. p.mu is
// held.
func (p *Producer) failAll(err error) {
	p.fatal = err
	for _, part := range p.parts {
		if part.err == nil {
			p.fail(part, fmt.Errorf("produce to %s[%d]: %w", part.topic, part.partition, err))
			p.pop(part)
		}
	}
}
