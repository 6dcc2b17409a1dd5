package batch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerLoop is the fetch loop of one broker: it fetches the partitions
// the broker leads, one request at a time.
type brokerLoop struct {
	id   int32
	wake chan struct{}
	// held says its last fetch waits in the queue for Poll, taken that
	// Poll returned it and the caller has not called Poll again: it does
	// not fetch again before, so that what is buffered is the answer the
	// caller works on, at most one fetch per broker. Guarded by
	// Fetcher.mu.
	held, taken bool
	// turn rotates the order of its partitions from one request to the
	// next: the broker returns at least one batch for the first partition
	// with data only, and fills the others in order up to MaxBytes.
	turn int
	// session is its fetch session with the broker. Guarded by
	// Fetcher.mu.
	session session
}

// session is a fetch session (KIP-227): the broker keeps the partitions
// the requests named and their offsets, so that a request names only the
// partitions whose offset moved, or that joined or left, and an answer
// only the partitions with something to say. An idle fetch of tens of
// thousands of partitions costs a few bytes each way instead of naming
// every one of them twice.
type session struct {
	id int32 // 0: none; the next request opens one
	// epoch is the next request's, from 1 up, wrapping to 1.
	epoch int32
	// offsets are what the broker holds: each partition's offset as the
	// requests last named it.
	offsets map[topicPartition]int64
}

// reset forgets the session: the next request opens a new one, naming
// every partition.
func (s *session) reset() { *s = session{} }

// lookupLeaders looks up, in metadata, the leaders of the partitions that
// need one, each when its backoff ends, and hands them to their brokers'
// loops.
func (f *Fetcher) lookupLeaders(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.lookup:
		case <-timer.C:
		}
		if topics := f.due(time.Now()); len(topics) > 0 {
			f.refresh(ctx, topics)
		}
		// A lookup that failed put its partitions' next one in the
		// future: this never spins.
		if next, ok := f.nextLookup(); ok {
			timer.Reset(time.Until(next))
		}
	}
}

// due returns the topics of the partitions whose leader is to be looked
// up now.
func (f *Fetcher) due(now time.Time) map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	topics := map[string]bool{}
	for tp, c := range f.cursors {
		if c.leader < 0 && !c.stopped && !c.retryAt.After(now) {
			topics[tp.topic] = true
		}
	}
	return topics
}

// nextLookup is when the next partition's leader is to be looked up, if
// one is to be.
func (f *Fetcher) nextLookup() (next time.Time, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cursors {
		if c.leader < 0 && !c.stopped && (!ok || c.retryAt.Before(next)) {
			next, ok = c.retryAt, true
		}
	}
	return next, ok
}

// refresh reads the leaders of topics' partitions, points the partitions
// that need one at theirs, and schedules another lookup for those that
// have none.
func (f *Fetcher) refresh(ctx context.Context, topics map[string]bool) {
	rctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	resp, err := metadata(rctx, f.o.Lookup, topics)
	cancel()
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	leaders := map[topicPartition]int32{}
	why := map[string]error{}
	if err != nil {
		err = fmt.Errorf("metadata: %w", err)
	} else {
		for _, rt := range resp.Topics {
			if rt.Topic == nil {
				continue
			}
			name := *rt.Topic
			if terr := kerr.ErrorForCode(rt.ErrorCode); terr != nil {
				why[name] = fmt.Errorf("metadata of topic %q: %w", name, terr)
				continue
			}
			if rt.TopicID != ([16]byte{}) {
				f.names[rt.TopicID] = name
				f.ids[name] = rt.TopicID
			}
			for _, rp := range rt.Partitions {
				// A partition may carry REPLICA_NOT_AVAILABLE with a
				// leader that serves fetches: the leader decides.
				if rp.Leader >= 0 {
					leaders[topicPartition{name, rp.Partition}] = rp.Leader
				}
			}
		}
	}
	for tp, c := range f.cursors {
		if c.leader >= 0 || c.stopped || c.retryAt.After(now) || !topics[tp.topic] {
			continue
		}
		if l, ok := leaders[tp]; ok {
			c.leader = l
			wake(f.broker(ctx, l).wake)
			continue
		}
		reason := err
		if reason == nil {
			reason = why[tp.topic]
		}
		if reason == nil {
			reason = fmt.Errorf("metadata: %w", kerr.LeaderNotAvailable)
		}
		f.retry(tp, c, reason, now)
	}
}

// broker returns the loop of broker id, started if need be. f.mu is held.
func (f *Fetcher) broker(ctx context.Context, id int32) *brokerLoop {
	b := f.brokers[id]
	if b == nil {
		b = &brokerLoop{id: id, wake: make(chan struct{}, 1)}
		f.brokers[id] = b
		f.wg.Go(func() { f.fetchFrom(ctx, b) })
	}
	return b
}

// fetchFrom is b's loop: it fetches while b leads partitions and what it
// fetched last was taken, and waits for a wake-up otherwise.
func (f *Fetcher) fetchFrom(ctx context.Context, b *brokerLoop) {
	var throttled time.Time
	for {
		if d := time.Until(throttled); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		req, sent := f.request(b)
		if req == nil {
			select {
			case <-ctx.Done():
				return
			case <-b.wake:
			}
			continue
		}
		kresp, err := f.cl.Broker(int(b.id)).Request(ctx, req)
		if ctx.Err() != nil {
			return
		}
		resp, _ := kresp.(*kmsg.FetchResponse)
		if err == nil && resp.ErrorCode != 0 {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		// Since Fetch v8 a broker throttles by telling the client to
		// wait, rather than by holding the response (KIP-219). franz-go
		// holds the next write on the connection too; waiting here keeps
		// the request from being built meanwhile.
		if resp != nil {
			if ms, after := resp.Throttle(); ms > 0 && after {
				throttled = time.Now().Add(time.Duration(ms) * time.Millisecond)
			}
		}
		f.settle(b, sent, resp, err)
	}
}

// request is b's next FetchRequest, nil when b leads no partition to fetch
// or its last fetch was not taken yet.
func (f *Fetcher) request(b *brokerLoop) (*kmsg.FetchRequest, map[topicPartition]uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tps := f.fetchable(b)
	if len(tps) == 0 {
		return nil, nil
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(f.o.MaxWait.Milliseconds())
	req.MinBytes = f.o.MinBytes
	req.MaxBytes = f.o.MaxBytes
	if f.o.ReadCommitted {
		req.IsolationLevel = 1
	}
	// What the request tells the broker is what its session holds from
	// now on: a request that fails resets the session (settle).
	ss := &b.session
	if ss.id == 0 {
		ss.epoch, ss.offsets = 0, make(map[topicPartition]int64, len(tps))
	}
	req.SessionID, req.SessionEpoch = ss.id, ss.epoch
	// sent holds each partition's generation, which its answer must
	// still match to count: every partition of the session, named in the
	// request or not.
	sent := make(map[topicPartition]uint64, len(tps))
	var named []topicPartition
	for _, tp := range tps {
		c := f.cursors[tp]
		sent[tp] = c.gen
		if at, ok := ss.offsets[tp]; !ok || at != c.offset {
			named = append(named, tp)
		}
	}
	// Only the partitions named are ordered: at rest, none.
	slices.SortFunc(named, func(a, b topicPartition) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	if len(named) > 0 {
		at := b.turn % len(named)
		b.turn++
		named = slices.Concat(named[at:], named[:at])
	}
	for _, tp := range named {
		c := f.cursors[tp]
		ss.offsets[tp] = c.offset
		// Rotation may split a topic in two entries; brokers take that.
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.topic {
			rt := kmsg.NewFetchRequestTopic()
			// Both: the version franz-go negotiates picks the name
			// (up to v12) or the ID (v13+).
			rt.Topic, rt.TopicID = tp.topic, f.ids[tp.topic]
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = tp.partition
		rp.FetchOffset = c.offset
		rp.PartitionMaxBytes = f.o.PartitionMaxBytes
		rp.CurrentLeaderEpoch = -1
		rt := &req.Topics[len(req.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	// A partition it no longer fetches from b (removed, stopped, or led
	// by another broker now) leaves the session.
	for tp := range ss.offsets {
		if _, ok := sent[tp]; ok {
			continue
		}
		delete(ss.offsets, tp)
		if n := len(req.ForgottenTopics); n == 0 || req.ForgottenTopics[n-1].Topic != tp.topic {
			ft := kmsg.NewFetchRequestForgottenTopic()
			ft.Topic, ft.TopicID = tp.topic, f.ids[tp.topic]
			req.ForgottenTopics = append(req.ForgottenTopics, ft)
		}
		ft := &req.ForgottenTopics[len(req.ForgottenTopics)-1]
		ft.Partitions = append(ft.Partitions, tp.partition)
	}
	if ss.id != 0 {
		ss.epoch = max(ss.epoch+1, 1) // wraps to 1, never to 0 or -1
	}
	return req, sent
}

// fetchable lists the partitions b fetches now: none while its last fetch
// is held or taken. f.mu is held.
func (f *Fetcher) fetchable(b *brokerLoop) []topicPartition {
	if b.held || b.taken {
		return nil
	}
	var tps []topicPartition
	for tp, c := range f.cursors {
		if c.leader == b.id && !c.stopped {
			tps = append(tps, tp)
		}
	}
	return tps
}

// settle takes a fetch's answer: data and errors to return go in the
// queue, partitions that failed with a retriable error go back to the
// leader lookup. A partition whose generation changed since the request
// (Add, SetOffset, Remove) is left alone: its answer is stale. Nothing
// else can have moved it: a partition is in one request at a time, as
// its leader changes only when the request that holds it fails it.
func (f *Fetcher) settle(b *brokerLoop, sent map[topicPartition]uint64, resp *kmsg.FetchResponse, err error) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	current := func(tp topicPartition) *cursor {
		gen, ok := sent[tp]
		c := f.cursors[tp]
		if !ok || c == nil || c.gen != gen || c.stopped {
			return nil
		}
		return c
	}
	switch {
	case errors.Is(err, kerr.FetchSessionIDNotFound), errors.Is(err, kerr.InvalidFetchSessionEpoch):
		// The broker forgot the session (evicted, or restarted): the
		// next request opens another, naming every partition.
		b.session.reset()
		return
	case err != nil:
		b.session.reset()
		err = fmt.Errorf("fetch from broker %d: %w", b.id, err)
		for tp := range sent {
			if c := current(tp); c != nil {
				f.retry(tp, c, err, now)
			}
		}
		return
	case b.session.id == 0:
		// The request opened a session: from now on requests name what
		// changed. A broker that keeps none answers 0, and the next
		// request tries again, naming every partition.
		if b.session.id = resp.SessionID; b.session.id != 0 {
			b.session.epoch = 1
		}
	}
	queued := len(f.queue)
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		name := rt.Topic
		if name == "" {
			name = f.names[rt.TopicID]
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			tp := topicPartition{name, rp.Partition}
			if c := current(tp); c != nil {
				f.answer(b, tp, c, rp, now)
			}
		}
	}
	if len(f.queue) > queued {
		b.held = true
		wake(f.ready)
	}
}

// answer takes one partition's answer. f.mu is held.
func (f *Fetcher) answer(b *brokerLoop, tp topicPartition, c *cursor, rp *kmsg.FetchResponseTopicPartition, now time.Time) {
	fetched := Fetched{Topic: tp.topic, Partition: tp.partition, Offset: c.offset,
		HighWatermark: rp.HighWatermark, LastStable: rp.LastStableOffset, LogStart: rp.LogStartOffset}
	err := kerr.ErrorForCode(rp.ErrorCode)
	switch {
	case err == nil:
		c.fails, c.warned = 0, false
		next, n, perr := nextOffset(rp.RecordBatches, c.offset)
		switch {
		case next > c.offset:
			// What follows a bad batch is left for the next fetch,
			// which begins with it and returns the error.
			fetched.Records, fetched.Aborted = rp.RecordBatches[:n], rp.AbortedTransactions
			c.offset = next
		case perr != nil:
			c.stopped = true
			fetched.Err = fmt.Errorf("read %s[%d] at offset %d: %w", tp.topic, tp.partition, c.offset, perr)
		default:
			return // nothing whole: an empty fetch is not returned
		}
	case kerr.IsRetriable(err):
		f.retry(tp, c, fmt.Errorf("fetch from broker %d: %w", b.id, err), now)
		return
	default:
		// OFFSET_OUT_OF_RANGE, an authorization error or another the
		// caller must act on: the partition stops until it does.
		c.stopped = true
		fetched.Err = fmt.Errorf("fetch %s[%d] at offset %d: %w", tp.topic, tp.partition, c.offset, err)
	}
	f.queue = append(f.queue, held{fetched, c.gen})
}

// nextOffset reads the records a fetch at offset returned: next is the
// offset after the last whole batch, n the size of the batches read. For
// older message formats, which kfake and old topics may return, franz-go
// decodes the messages to tell where they end. err is why reading stopped
// before the end, other than a partial batch.
func nextOffset(records []byte, offset int64) (next int64, n int, err error) {
	bs, err := Split(records)
	if errors.Is(err, ErrMagic) {
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Offset: offset, KeepControlRecords: true},
			&kmsg.FetchResponseTopicPartition{RecordBatches: records}, kgo.DefaultDecompressor(), nil)
		return max(next, offset), len(records), fp.Err
	}
	next = offset
	for _, b := range bs {
		n += len(b)
		next = max(next, b.NextOffset())
	}
	return next, n, err
}
