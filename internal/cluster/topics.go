package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureCompactedTopic creates a compacted single-partition topic, as MM2
// does for its internal topics, unless it exists. rf is the replication
// factor that the configuration key rfKey set.
func EnsureCompactedTopic(ctx context.Context, adm *kadm.Client, topic string, rf int16, rfKey string) error {
	// kadm returns the topic's own error, such as TOPIC_ALREADY_EXISTS.
	_, err := adm.CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic)
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	case errors.Is(err, kerr.InvalidReplicationFactor):
		// Kafka refuses more replicas than brokers; name the key to change.
		return fmt.Errorf("create internal topic %q with %s=%d: %w (the cluster has fewer brokers; -1 takes the broker's default)", topic, rfKey, rf, err)
	}
	return fmt.Errorf("create internal topic %q: %w", topic, err)
}

// ScanTopic reads a whole topic, typically a compacted one holding state,
// giving each data record, tombstones included, to take, in the order of
// each partition. A topic that does not exist holds nothing.
func ScanTopic(ctx context.Context, opts []kgo.Opt, topic string, take func(*kgo.Record)) error {
	cl, err := kgo.NewClient(append(opts, kgo.KeepControlRecords())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("read %q: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("read %q: %w", topic, err)
	}
	remaining := map[int32]int64{}
	consume := map[string]map[int32]kgo.Offset{topic: {}}
	var ferr error
	ends.Each(func(o kadm.ListedOffset) {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return // no topic, nothing stored
		}
		if o.Err != nil {
			ferr = o.Err
			return
		}
		if s, ok := starts.Lookup(topic, o.Partition); ok && o.Offset > s.Offset {
			remaining[o.Partition] = o.Offset
			consume[topic][o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	if ferr != nil {
		return fmt.Errorf("read %q: %w", topic, ferr)
	}
	if len(remaining) == 0 {
		return nil
	}
	cl.AddConsumePartitions(consume)
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %q: %w", topic, err)
		}
		var perr error
		fs.EachError(func(_ string, _ int32, err error) { perr = err })
		if perr != nil {
			return fmt.Errorf("read %q: %w", topic, perr)
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if !r.Attrs.IsControl() {
					take(r)
				}
				if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
					delete(remaining, r.Partition)
				}
			}
			// Control records and compaction can leave the end unreachable
			// by data records; the high watermark tells when we are there.
			if end, ok := remaining[p.Partition]; ok && len(p.Records) == 0 && p.HighWatermark >= end {
				delete(remaining, p.Partition)
			}
		})
	}
	return nil
}
