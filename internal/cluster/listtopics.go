package cluster

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicMeta is what a metadata answer says of a topic: enough to select
// it and to count its partitions.
type TopicMeta struct {
	Name       string
	ID         [16]byte
	Partitions int32
	// Leaders holds each partition's leader by partition number, -1
	// where the answer named none.
	Leaders []int32
	// Err is the topic's error in the answer, nil if none.
	Err error
}

// ListTopics lists the cluster's topics but its internal ones
// (__consumer_offsets, __transaction_state), in name order, from one
// metadata request, as kadm's ListTopics does but without building a
// description of every partition, and without franz-go's copy of the
// answer into its cache: a worker discovers topics every few seconds, and
// at tens of thousands of partitions those were most of what it allocated
// at rest. A topic the principal may not describe is not in the answer; a
// topic-level authorization error fails the call, as with kadm.
// With names, it lists those alone; one the cluster does not know has
// UNKNOWN_TOPIC_OR_PARTITION as its Err (it is not created).
func ListTopics(ctx context.Context, cl *kgo.Client, names ...string) ([]TopicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = nil // all
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := uncachedMetadata(ctx, cl, req)
	if err != nil {
		return nil, err
	}
	out := make([]TopicMeta, 0, len(resp.Topics))
	for _, t := range resp.Topics {
		err := kerr.ErrorForCode(t.ErrorCode)
		switch err {
		case kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed:
			return nil, err
		}
		if t.IsInternal || t.Topic == nil {
			continue
		}
		tm := TopicMeta{Name: *t.Topic, ID: t.TopicID, Partitions: int32(len(t.Partitions)), Err: err}
		tm.Leaders = UnknownLeaders(tm.Partitions)
		for _, p := range t.Partitions {
			if p.Partition >= 0 && p.Partition < tm.Partitions && p.ErrorCode == 0 {
				tm.Leaders[p.Partition] = p.Leader
			}
		}
		out = append(out, tm)
	}
	slices.SortFunc(out, func(a, b TopicMeta) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// uncachedMetadata sends req to one broker the client knows, trying the
// next when one fails, so that franz-go, which takes every metadata
// request given to the client to refresh its own, does not copy the
// answer into its cache. Before the client knows any broker, the client
// sends it.
func uncachedMetadata(ctx context.Context, cl *kgo.Client, req *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error) {
	brokers := cl.DiscoveredBrokers()
	if len(brokers) == 0 {
		return req.RequestWith(ctx, cl)
	}
	var err error
	first := rand.IntN(len(brokers))
	for i := range brokers {
		var resp *kmsg.MetadataResponse
		if resp, err = req.RequestWith(ctx, brokers[(first+i)%len(brokers)]); err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}
