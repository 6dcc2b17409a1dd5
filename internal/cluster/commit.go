package cluster

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicIDs resolves topic names to their IDs with one metadata request.
// A topic the cluster does not know is left out.
func TopicIDs(ctx context.Context, cl *kgo.Client, topics []string) (map[string]kadm.TopicID, error) {
	ids := make(map[string]kadm.TopicID, len(topics))
	if len(topics) == 0 {
		return ids, nil
	}
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, t := range resp.Topics {
		if t.Topic != nil && t.ErrorCode == 0 {
			ids[*t.Topic] = t.TopicID
		}
	}
	return ids, nil
}

// CommitOffsets commits offsets for group, naming each topic by its ID
// from ids as well as by its name (OffsetCommit v10 and later name topics
// by ID). It is kadm's CommitOffsets without its metadata request per
// call: a syncer committing thousands of groups resolves the IDs once per
// round, and kadm's request would also take apart every partition of the
// topics, at each call. A topic missing from ids fails with
// UNKNOWN_TOPIC_OR_PARTITION, as with kadm.
func CommitOffsets(ctx context.Context, cl *kgo.Client, ids map[string]kadm.TopicID, group string, offsets kadm.Offsets) (kadm.OffsetResponses, error) {
	out := kadm.OffsetResponses{}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = group
	for t, ps := range offsets {
		id, ok := ids[t]
		if !ok {
			out[t] = map[int32]kadm.OffsetResponse{}
			for p, o := range ps {
				out[t][p] = kadm.OffsetResponse{Offset: o, Err: kerr.UnknownTopicOrPartition}
			}
			continue
		}
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = t, id
		for p, o := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, o.At, o.LeaderEpoch
			if o.Metadata != "" {
				rp.Metadata = kmsg.StringPtr(o.Metadata)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	if len(req.Topics) == 0 {
		return out, nil
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	names := make(map[kadm.TopicID]string, len(ids))
	for name, id := range ids {
		names[id] = name
	}
	for _, t := range resp.Topics {
		name := t.Topic
		if name == "" {
			name = names[kadm.TopicID(t.TopicID)]
		}
		if out[name] == nil {
			out[name] = map[int32]kadm.OffsetResponse{}
		}
		for _, p := range t.Partitions {
			out[name][p.Partition] = kadm.OffsetResponse{Offset: offsets[name][p.Partition], Err: kerr.ErrorForCode(p.ErrorCode)}
		}
	}
	// A partition the answer left out was not committed.
	for t, ps := range offsets {
		for p, o := range ps {
			if _, ok := out[t][p]; !ok {
				if out[t] == nil {
					out[t] = map[int32]kadm.OffsetResponse{}
				}
				out[t][p] = kadm.OffsetResponse{Offset: o, Err: fmt.Errorf("the broker's answer left %s[%d] out", t, p)}
			}
		}
	}
	return out, nil
}

// Committed is a group's committed offset of one partition.
type Committed struct {
	Topic     string
	Partition int32
	At        int64
	Metadata  string
}

// GroupCommits are a group's committed offsets, or why they could not be
// read.
type GroupCommits struct {
	Offsets []Committed
	Err     error
}

// CommittedOffsets reads the committed offsets of groups, in one request
// per coordinator where the brokers take several groups at once
// (OffsetFetch v8+), as kadm's FetchManyOffsets does, but into one slice
// per group rather than a map of maps: a syncer reads ten thousand groups
// every second. A partition answered with an error, or with no offset,
// is left out; a group missing from the answer gets an error.
func CommittedOffsets(ctx context.Context, cl *kgo.Client, groups []string) map[string]GroupCommits {
	out := make(map[string]GroupCommits, len(groups))
	if len(groups) == 0 {
		return out
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	for _, g := range groups {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		req.Groups = append(req.Groups, rg)
	}
	for _, shard := range cl.RequestSharded(ctx, req) {
		sreq := shard.Req.(*kmsg.OffsetFetchRequest)
		err := shard.Err
		var resp *kmsg.OffsetFetchResponse
		if err == nil {
			resp = shard.Resp.(*kmsg.OffsetFetchResponse)
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			for _, g := range sreq.Groups {
				out[g.Group] = GroupCommits{Err: err}
			}
			continue
		}
		for _, g := range resp.Groups {
			gc := GroupCommits{Err: kerr.ErrorForCode(g.ErrorCode)}
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 || p.Offset < 0 {
						continue
					}
					c := Committed{Topic: t.Topic, Partition: p.Partition, At: p.Offset}
					if p.Metadata != nil {
						c.Metadata = *p.Metadata
					}
					gc.Offsets = append(gc.Offsets, c)
				}
			}
			out[g.Group] = gc
		}
	}
	for _, g := range groups {
		if _, ok := out[g]; !ok {
			out[g] = GroupCommits{Err: fmt.Errorf("the broker's answer left group %q out", g)}
		}
	}
	return out
}
