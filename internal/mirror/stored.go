package mirror

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mm2"
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
	// MM2 are MirrorMaker 2's offset syncs of the partition, when kmirror
	// took it over from MM2: they translate the offsets below Map's start.
	MM2 mm2.History
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
	st, _, err := readStored(ctx, f, src, tgt, log)
	return st, err
}

// offsetSyncsAt returns the cluster and the topic of flow f's offset syncs,
// as offset-syncs.topic.location says; with other, those of the other
// location, named after the other cluster as MM2 names them.
func offsetSyncsAt(f *config.Flow, src, tgt *config.Cluster, other bool) (*config.Cluster, string) {
	if (f.OffsetSyncsLocation == "source") != other {
		return src, f.Replication.OffsetSyncsTopic(f.Target)
	}
	return tgt, f.Replication.OffsetSyncsTopic(f.Source)
}

// readStored reads what ReadStored does, and also MirrorMaker 2's offset
// syncs of every partition, those kmirror has no progress for included:
// the two share the offset-syncs topic, read once.
func readStored(ctx context.Context, f *config.Flow, src, tgt *config.Cluster, log *slog.Logger) (Stored, map[partitionKey]mm2.History, error) {
	syncsCluster, syncsTopic := offsetSyncsAt(f, src, tgt, false)
	progs, err := readProgress(ctx, f, tgt, log)
	if err != nil {
		return nil, nil, err
	}
	segKeys := map[string]offsetmap.SegmentKey{}
	segValues := map[string][]byte{}
	histories := map[partitionKey]mm2.History{}
	err = cluster.ScanTopic(ctx, cluster.Options(syncsCluster, nil), syncsTopic, func(r *kgo.Record) {
		sk, ok, err := offsetmap.DecodeSegmentKey(r.Key)
		switch {
		case ok && err != nil:
			log.Warn("ignoring an unreadable offset sync", "topic", syncsTopic, "err", err)
		case ok && r.Value == nil:
			delete(segValues, string(r.Key))
		case ok:
			segKeys[string(r.Key)], segValues[string(r.Key)] = sk, r.Value
		case r.Value == nil: // MM2 writes no tombstones; nothing to forget
		default:
			p, s, ok, err := mm2.DecodeSync(r.Key, r.Value)
			if err != nil {
				log.Warn("ignoring an unreadable MirrorMaker 2 offset sync", "topic", syncsTopic, "err", err)
			}
			if ok {
				pk := partitionKey{p.Topic, p.Partition}
				histories[pk] = histories[pk].Add(s)
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	segs := map[partitionKey][]offsetmap.Segment{}
	for k, v := range segValues {
		sk := segKeys[k]
		var s offsetmap.Segment
		s.Target, s.Count, err = offsetmap.DecodeSegmentValue(v)
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
			Map: offsetmap.Restore(p.start, p.end, segs[pk]), MM2: histories[pk]}
	}
	return out, histories, nil
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
// the stored offset map, and below it with MirrorMaker 2's offset syncs
// when kmirror took the partition over from MM2; ok is false when nothing
// of the partition was stored.
func (s Stored) Translate(topic string, partition int32, g int64) (Translation, bool) {
	p, ok := s[TopicPartition{topic, partition}]
	if !ok {
		return Translation{}, false
	}
	return translate(p.Map, p.MM2, g), true
}
