package cluster

import (
	"cmp"
	"context"
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Offsets at which ListOffsets lists.
const (
	AtStart int64 = -2 // each partition's log start
	AtEnd   int64 = -1 // each partition's high watermark
)

// Offset is a partition's answer to ListOffsets.
type Offset struct {
	Offset int64
	// Err is why there is no offset: the partition's error, or its
	// request's.
	Err error
}

// Offsets are the offsets ListOffsets lists, a slice per topic indexed by
// partition.
type Offsets map[string][]Offset

// Lookup returns the offset of a partition, false when it was not asked
// for.
func (o Offsets) Lookup(topic string, partition int32) (Offset, bool) {
	ps := o[topic]
	if partition < 0 || int(partition) >= len(ps) {
		return Offset{}, false
	}
	return ps[partition], true
}

var errNotAnswered = errors.New("not in the broker's answer")

// ListOffsets lists the offset at (AtStart or AtEnd) of every partition of
// topics, read uncommitted. topics holds each topic's partitions by
// number, with their leaders: a partition whose leader is known (from
// ListTopics) is asked of it directly, one request per leader; one whose
// leader is -1 goes through franz-go, which looks the leaders up. It is
// kadm's ListStartOffsets and ListEndOffsets without their metadata
// request, franz-go's copy of it and their maps of maps: a worker's status
// reads every partition's offsets every few seconds, and at tens of
// thousands of partitions those were most of what it did at rest. It
// fails when no broker answered or a topic may not be described, as
// kadm's do; a partition whose leader did not answer, or is its leader no
// longer, has that error.
func ListOffsets(ctx context.Context, cl *kgo.Client, topics map[string][]int32, at int64) (Offsets, error) {
	out := make(Offsets, len(topics))
	reqs := map[int32]*kmsg.ListOffsetsRequest{}
	for t, leaders := range topics {
		ps := make([]Offset, len(leaders))
		out[t] = ps
		entry := map[int32]int{} // the topic's index in each leader's request
		for p, leader := range leaders {
			ps[p].Err = errNotAnswered
			req := reqs[leader]
			if req == nil {
				req = kmsg.NewPtrListOffsetsRequest()
				req.ReplicaID = -1
				reqs[leader] = req
			}
			i, ok := entry[leader]
			if !ok {
				i = len(req.Topics)
				entry[leader] = i
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = t
				req.Topics = append(req.Topics, rt)
			}
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = int32(p), at
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
	}
	var (
		mu     sync.Mutex
		shards []kgo.ResponseShard
		wg     sync.WaitGroup
	)
	for leader, req := range reqs {
		wg.Go(func() {
			var got []kgo.ResponseShard
			if leader < 0 {
				got = cl.RequestSharded(ctx, req)
			} else {
				resp, err := req.RequestWith(ctx, cl.Broker(int(leader)))
				got = []kgo.ResponseShard{{Req: req, Resp: resp, Err: err}}
			}
			mu.Lock()
			shards = append(shards, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	var first error
	answered := false
	for _, sh := range shards {
		if sh.Err != nil {
			first = cmp.Or(first, sh.Err)
			if sr, ok := sh.Req.(*kmsg.ListOffsetsRequest); ok {
				for _, t := range sr.Topics {
					for _, p := range t.Partitions {
						if ps := out[t.Topic]; int(p.Partition) < len(ps) {
							ps[p.Partition].Err = sh.Err
						}
					}
				}
			}
			continue
		}
		answered = true
		resp := sh.Resp.(*kmsg.ListOffsetsResponse)
		for _, t := range resp.Topics {
			ps := out[t.Topic]
			for _, p := range t.Partitions {
				err := kerr.ErrorForCode(p.ErrorCode)
				if errors.Is(err, kerr.TopicAuthorizationFailed) {
					return nil, err
				}
				if p.Partition >= 0 && int(p.Partition) < len(ps) {
					ps[p.Partition] = Offset{Offset: p.Offset, Err: err}
				}
			}
		}
	}
	if !answered && first != nil {
		return nil, first
	}
	return out, nil
}

// UnknownLeaders are n partitions whose leaders ListOffsets looks up.
func UnknownLeaders(n int32) []int32 {
	ls := make([]int32, n)
	for i := range ls {
		ls[i] = -1
	}
	return ls
}
