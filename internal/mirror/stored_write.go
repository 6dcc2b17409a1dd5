package mirror

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// WriteStored persists what flow f knows about one source partition, as a
// running flow does: the segments of p.Map to the offset-syncs topic, then
// the progress that covers them. ReadStored reads it back. The flow must not
// be running for the partition, or the two would overwrite each other; the
// topics must exist (a flow creates them when it first starts). Tests use it
// to set up a stored state that copying alone does not produce.
func WriteStored(ctx context.Context, f *config.Flow, src, tgt *config.Cluster, tp TopicPartition, p StoredPartition) error {
	syncsCluster, syncsTopic := offsetSyncsAt(f, src, tgt, false)
	var syncs []*kgo.Record
	for _, s := range p.Map.Segments() {
		k, v := offsetmap.EncodeSegment(tp.Topic, tp.Partition, s)
		syncs = append(syncs, &kgo.Record{Topic: syncsTopic, Key: k, Value: v})
	}
	k, v := encodeProgress(partitionKey{tp.Topic, tp.Partition},
		progress{clusterID: p.ClusterID, topicID: p.TopicID, start: p.Map.Start(), end: p.Map.End()})
	prog := &kgo.Record{Topic: ProgressTopic(f.Source), Key: k, Value: v}
	if err := produceStored(ctx, syncsCluster, syncs); err != nil {
		return fmt.Errorf("write offset syncs of %s[%d] to %q: %w", tp.Topic, tp.Partition, syncsTopic, err)
	}
	if err := produceStored(ctx, tgt, []*kgo.Record{prog}); err != nil {
		return fmt.Errorf("write progress of %s[%d] to %q: %w", tp.Topic, tp.Partition, prog.Topic, err)
	}
	return nil
}

func produceStored(ctx context.Context, c *config.Cluster, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(cluster.Options(c, nil)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return cl.ProduceSync(ctx, recs...).FirstErr()
}
