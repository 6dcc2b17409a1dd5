package mirror

import (
	"context"
	"log/slog"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// TopicPartition names a source partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// StoredPartition is what a flow persisted about one source partition.
type StoredPartition struct {
	// ClusterID and TopicID identify the source the progress was written for.
	ClusterID string
	TopicID   [16]byte
	// Map is the exact offset map: Start is the first source offset it
	// covers, End the next source offset to copy and the next target offset.
	Map *offsetmap.Partition
}

// Stored is the state a flow persisted on the clusters: its progress and
// offset map, as a restarted worker finds them. The commands that inspect a
// migration from outside the running workers (status, migrate, verify) read
// it.
type Stored map[TopicPartition]StoredPartition

// ReadStored reads the persisted progress and offset map of flow f from the
// target (and the offset syncs from the source with
// offset-syncs.topic.location=source). Unreadable records are logged and
// skipped, as a restarting worker does.
func ReadStored(ctx context.Context, f *config.Flow, src, tgt *config.Cluster, log *slog.Logger) (Stored, error) {
	syncsCluster, syncsTopic := tgt, f.Replication.OffsetSyncsTopic(f.Source)
	if f.OffsetSyncsLocation == "source" {
		syncsCluster, syncsTopic = src, f.Replication.OffsetSyncsTopic(f.Target)
	}
	progs, err := readProgress(ctx, f, tgt, log)
	if err != nil {
		return nil, err
	}
	syncs, err := readTopic(ctx, cluster.Options(syncsCluster, nil), syncsTopic)
	if err != nil {
		return nil, err
	}
	segs := map[partitionKey][]offsetmap.Segment{}
	for k, v := range syncs {
		sk, ok, err := offsetmap.DecodeSegmentKey([]byte(k))
		if !ok {
			continue
		}
		var s offsetmap.Segment
		if err == nil {
			s.Target, s.Count, err = offsetmap.DecodeSegmentValue(v)
		}
		if err != nil {
			log.Warn("ignoring an unreadable offset sync", "topic", syncsTopic, "err", err)
			continue
		}
		s.Source = sk.Source
		pk := partitionKey{sk.Topic, sk.Partition}
		segs[pk] = append(segs[pk], s)
	}
	out := Stored{}
	for pk, p := range progs {
		out[TopicPartition{pk.topic, pk.partition}] = StoredPartition{ClusterID: p.clusterID, TopicID: p.topicID,
			Map: offsetmap.Restore(p.start, p.end, segs[pk])}
	}
	return out, nil
}

// ReadNext reads where flow f has copied each source partition up to: the
// next source offset to copy, from the progress topic alone (not the
// offset map), for the checks that need no translation.
func ReadNext(ctx context.Context, f *config.Flow, tgt *config.Cluster, log *slog.Logger) (map[TopicPartition]int64, error) {
	progs, err := readProgress(ctx, f, tgt, log)
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(progs))
	for pk, p := range progs {
		out[TopicPartition{pk.topic, pk.partition}] = p.end.Source
	}
	return out, nil
}

// readProgress reads flow f's progress topic on the target; unreadable
// records are logged and skipped, as a restarting worker does.
func readProgress(ctx context.Context, f *config.Flow, tgt *config.Cluster, log *slog.Logger) (map[partitionKey]progress, error) {
	topic := ProgressTopic(f.Source)
	stored, err := readTopic(ctx, cluster.Options(tgt, nil), topic)
	if err != nil {
		return nil, err
	}
	out := make(map[partitionKey]progress, len(stored))
	for k, v := range stored {
		pk, p, err := decodeProgress([]byte(k), v)
		if err != nil {
			log.Warn("ignoring an unreadable progress record", "topic", topic, "err", err)
			continue
		}
		out[pk] = p
	}
	return out, nil
}

// Translate translates the committed offset g of a source partition with
// the stored offset map; ok is false when nothing of the partition was
// stored.
func (s Stored) Translate(topic string, partition int32, g int64) (offset int64, res offsetmap.Result, ok bool) {
	p, ok := s[TopicPartition{topic, partition}]
	if !ok {
		return 0, 0, false
	}
	offset, res = p.Map.Translate(g)
	return offset, res, true
}
