// Package batchtest reads a partition's record batches as a broker holds
// them, for tests that compare batches byte for byte.
package batchtest

import (
	"context"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/batch"
	"github.com/kmirror/kmirror/internal/testbed"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Read reads every record batch of a partition as the broker holds it
// (magic 2), with plain fetch requests to its leader (Kafka 3.0's versions,
// which name topics).
func Read(t testing.TB, c *testbed.Brokers, topic string, partition int32) []batch.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := c.Client(t, kgo.MaxVersions(kversion.V3_0_0()))
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	leader := md.Topics[topic].Partitions[partition].Leader
	end := c.EndOffsets(t, topic)[partition]
	var out []batch.Batch
	for at := int64(0); at < end; {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 100, 1, 50<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, at, 10<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(int(leader)))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("fetch %s[%d] at %d: %+v", topic, partition, at, resp.Topics)
		}
		bs, err := batch.Split(resp.Topics[0].Partitions[0].RecordBatches)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.NextOffset() > at {
				out = append(out, b)
				at = b.NextOffset()
			}
		}
	}
	return out
}
