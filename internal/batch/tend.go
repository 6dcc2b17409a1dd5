package batch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// tending gets the producer id, at first and when the target lost the
// producer's state, and the partitions' leaders, at first and before a
// partition sends again after a retriable error.
func (p *Producer) tending(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.tend:
		case <-t.C:
		}
		var wait time.Duration
		for again := true; again && ctx.Err() == nil; {
			wait, again = p.tendOnce(ctx)
		}
		t.Stop()
		if wait > 0 {
			t.Reset(wait)
		}
	}
}

// tendOnce does what is due: it gets a producer id and refreshes the
// leaders of the partitions that wait for them. It returns how long until
// something put off is due (0: nothing), and whether it did anything, so
// that what follows from it is looked at at once.
func (p *Producer) tendOnce(ctx context.Context) (wait time.Duration, did bool) {
	now := time.Now()
	soon := func(at time.Time) {
		if d := at.Sub(now); wait == 0 || d < wait {
			wait = d
		}
	}
	p.mu.Lock()
	needID := !p.closed && p.fatal == nil && ((!p.hasID && len(p.parts) > 0) || (p.resetting && p.requests == 0))
	if needID && now.Before(p.idRetryAt) {
		soon(p.idRetryAt)
		needID = false
	}
	topics := map[string]bool{}
	for _, part := range p.parts {
		if p.closed || part.err != nil || !(part.leader < 0 || (part.blocked && part.inflight == 0)) {
			continue
		}
		if now.Before(part.retryAt) {
			soon(part.retryAt)
			continue
		}
		topics[part.topic] = true
	}
	if len(topics) > 0 && now.Before(p.metaRetryAt) {
		soon(p.metaRetryAt)
		topics = nil
	}
	p.mu.Unlock()

	if needID {
		id, err := initProducerID(ctx, p.cl)
		p.mu.Lock()
		p.setID(id, err, time.Now()) // backoffs count from the answer
		p.mu.Unlock()
		did = true
	}
	if len(topics) > 0 {
		meta, err := metadata(ctx, p.cl, topics)
		p.mu.Lock()
		p.setLeaders(ctx, topics, meta, err, time.Now())
		p.mu.Unlock()
		did = true
	}
	return wait, did
}

// initProducerID gets a new producer id and epoch, with no transactional id.
func initProducerID(ctx context.Context, cl *kgo.Client) (Stamp, error) {
	resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return Stamp{}, fmt.Errorf("init producer id: %w", err)
	}
	return Stamp{ID: resp.ProducerID, Epoch: resp.ProducerEpoch}, nil
}

// setID takes a producer id, or puts off getting one after err. A new id
// replacing one whose state the target lost starts every partition's
// sequences over, and every batch not answered is written anew for it.
// p.mu is held.
func (p *Producer) setID(id Stamp, err error, now time.Time) {
	if p.closed {
		return
	}
	if err != nil {
		if errors.Is(err, kgo.ErrClientClosed) || (isKafkaError(err) && !kerr.IsRetriable(err)) {
			p.failAll(err)
			return
		}
		p.idRetryAt = now.Add(backoff(p.idFails))
		p.idFails++
		p.log.Debug("retrying to get a producer id", "tries", p.idFails, "err", err)
		return
	}
	old := p.id
	p.id, p.hasID, p.idFails = id, true, 0
	if p.resetting {
		p.resetting = false
		for _, part := range p.parts {
			if part.err != nil {
				continue
			}
			if pb := p.first(part); pb != nil && writtenAfter(part, pb) {
				// A batch in doubt after one written: the new id
				// cannot put it before, and its old sequence could
				// still be written again under the old one.
				p.fail(part, fmt.Errorf("produce to %s[%d]: the batch at sequence %d is in doubt after a later one was written, and the producer id changes: the order can no longer be kept", part.topic, part.partition, pb.seq))
				p.pop(part)
				continue
			}
			part.seq, part.next, part.probe = 0, 0, true
			for _, pb := range part.batches {
				if pb.state != answered {
					pb.state, pb.seq = queued, part.seq
					part.seq = nextSequence(part.seq, Batch(pb.w).Records())
				}
			}
		}
		p.log.Info("the target lost the producer's state: writing on with a new producer id",
			"old_producer_id", old.ID, "producer_id", id.ID, "epoch", id.Epoch, "cause", p.lost)
	}
	for broker := range p.senders {
		p.wakeSender(broker)
	}
}

func isKafkaError(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke)
}

// metadata asks the cluster for the partitions of topics: the producer's
// target, the fetcher's source.
func metadata(ctx context.Context, cl *kgo.Client, topics map[string]bool) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	for t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return resp, nil
}

// setLeaders takes the leaders of the partitions of topics from meta, and
// lets the partitions that waited for them send; or puts off another try
// after err. p.mu is held.
func (p *Producer) setLeaders(ctx context.Context, topics map[string]bool, meta *kmsg.MetadataResponse, err error, now time.Time) {
	if p.closed {
		return
	}
	if err != nil {
		if errors.Is(err, kgo.ErrClientClosed) {
			p.failAll(err)
			return
		}
		p.metaRetryAt = now.Add(backoff(p.metaFails))
		p.metaFails++
		p.log.Debug("retrying metadata", "tries", p.metaFails, "err", err)
		return
	}
	p.metaFails = 0
	type where struct {
		leader int32
		err    error
	}
	found := map[tp]where{}
	topicErr := map[string]error{}
	for _, t := range meta.Topics {
		if t.Topic == nil {
			continue
		}
		if terr := kerr.ErrorForCode(t.ErrorCode); terr != nil {
			topicErr[*t.Topic] = terr
			continue
		}
		p.topics[*t.Topic] = t.TopicID
		for _, mp := range t.Partitions {
			w := where{leader: mp.Leader, err: kerr.ErrorForCode(mp.ErrorCode)}
			if w.err == nil && w.leader < 0 {
				w.err = kerr.LeaderNotAvailable
			}
			found[tp{*t.Topic, mp.Partition}] = w
		}
	}
	for _, part := range p.parts {
		if !topics[part.topic] || part.err != nil {
			continue
		}
		w, ok := found[part.tp]
		switch {
		case topicErr[part.topic] != nil:
			w.err = topicErr[part.topic]
		case !ok:
			w.err = kerr.UnknownTopicOrPartition
		}
		if w.err == nil {
			part.leader = w.leader
			part.unknownSince = time.Time{}
			if part.blocked && part.inflight == 0 && !now.Before(part.retryAt) {
				part.blocked, part.next, part.probe = false, 0, true
			}
			p.senderFor(ctx, w.leader)
			p.wakeSender(w.leader)
			continue
		}
		if part.leader >= 0 && !part.blocked {
			continue // sending on: it is answered by its leader
		}
		if errors.Is(w.err, kerr.UnknownTopicOrPartition) && !p.unknown(part, w.err, now) {
			p.pop(part)
			continue
		}
		if kerr.IsRetriable(w.err) {
			part.retryAt = now.Add(backoff(part.tries))
			part.tries++
			continue
		}
		p.fail(part, fmt.Errorf("produce to %s[%d]: metadata: %w", part.topic, part.partition, w.err))
		p.pop(part)
	}
}
