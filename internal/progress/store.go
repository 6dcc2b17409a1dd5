package progress

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// Store persists a running flow's progress through the flow's clients:
// the exact offset map to the target, the MM2-format offset syncs to the
// cluster offset-syncs.topic.location names, then the progress they cover
// to the target.
type Store struct {
	f             *config.Flow
	syncs, target *kgo.Client
	syncsTopic    string
}

// NewStore makes the Store of flow f: syncs is a client of the cluster
// that holds its offset syncs (f.OffsetSyncs), target one of its target.
func NewStore(f *config.Flow, syncs, target *kgo.Client) *Store {
	_, topic := f.OffsetSyncs()
	return &Store{f: f, syncs: syncs, target: target, syncsTopic: topic}
}

// Ensure creates the flow's progress, offset-map and offset-syncs topics,
// unless they exist.
func (s *Store) Ensure(ctx context.Context) error {
	for _, which := range []config.Internal{config.InternalProgress, config.InternalOffsetMap} {
		if err := cluster.EnsureInternalTopic(ctx, kadm.NewClient(s.target), s.f.InternalTopic(which)); err != nil {
			return err
		}
	}
	return cluster.EnsureInternalTopic(ctx, kadm.NewClient(s.syncs), s.f.InternalTopic(config.InternalOffsetSyncs))
}

// Pending is what is to be persisted of one partition: offset-map
// segments to write and to delete, MM2-format offset syncs, then its
// mark, when it moved.
type Pending struct {
	Partition         Partition
	Segments, Deletes []offsetmap.Segment
	Syncs             []mm2.Sync
	Mark              *Mark
}

// Empty tells whether there is nothing to persist.
func (p Pending) Empty() bool {
	return len(p.Segments)+len(p.Deletes)+len(p.Syncs) == 0 && p.Mark == nil
}

// Records are the records that persist some partitions, in the order
// they are written: the offset map's (segments, and tombstones for the
// deleted ones), the MM2-format offset syncs, then the marks, so that a
// mark never covers a translation not yet written.
type Records struct {
	Map, Syncs, Marks []*kgo.Record
}

// All is every record, in order.
func (r Records) All() []*kgo.Record {
	return append(append(append([]*kgo.Record(nil), r.Map...), r.Syncs...), r.Marks...)
}

// Flush writes the offset map and the offset syncs of items, then their
// marks, each mark naming the worker that wrote it. On an error,
// syncsWritten tells whether the map and syncs were written, so that only
// the marks are to be written again.
func (s *Store) Flush(ctx context.Context, worker string, items []Pending) (syncsWritten bool, err error) {
	rs := s.Records(worker, items)
	if len(rs.Map) > 0 {
		if err := s.target.ProduceSync(ctx, rs.Map...).FirstErr(); err != nil {
			return false, fmt.Errorf("write the offset map to %q: %w", s.f.OffsetMapTopic(), err)
		}
	}
	if len(rs.Syncs) > 0 {
		if err := s.syncs.ProduceSync(ctx, rs.Syncs...).FirstErr(); err != nil {
			return false, fmt.Errorf("write offset syncs to %q: %w", s.syncsTopic, err)
		}
	}
	if len(rs.Marks) > 0 {
		if err := s.target.ProduceSync(ctx, rs.Marks...).FirstErr(); err != nil {
			return true, fmt.Errorf("write progress to %q: %w", s.f.ProgressTopic(), err)
		}
	}
	return true, nil
}

// Records are the records that persist items, each mark naming the worker
// that wrote it. An exactly-once flow writes them all in its
// transactions.
func (s *Store) Records(worker string, items []Pending) Records {
	var rs Records
	header := []kgo.RecordHeader{{Key: WorkerHeader, Value: []byte(worker)}}
	mapTopic := s.f.OffsetMapTopic()
	for _, it := range items {
		for _, seg := range it.Segments {
			k, v := EncodeSegment(it.Partition.Topic, it.Partition.Partition, seg)
			rs.Map = append(rs.Map, &kgo.Record{Topic: mapTopic, Key: k, Value: v})
		}
		for _, seg := range it.Deletes {
			k, _ := EncodeSegment(it.Partition.Topic, it.Partition.Partition, seg)
			rs.Map = append(rs.Map, &kgo.Record{Topic: mapTopic, Key: k}) // a tombstone
		}
		for _, sync := range it.Syncs {
			k, v := mm2.EncodeSync(it.Partition, sync)
			rs.Syncs = append(rs.Syncs, &kgo.Record{Topic: s.syncsTopic, Key: k, Value: v})
		}
		if it.Mark != nil {
			k, v := EncodeMark(it.Partition, *it.Mark)
			rs.Marks = append(rs.Marks, &kgo.Record{Topic: s.f.ProgressTopic(), Key: k, Value: v, Headers: header})
		}
	}
	return rs
}

// MoveLegacy moves the segments an older kmirror wrote into the
// offset-syncs topic (Cache.Legacy) to the offset-map topic: each is
// written there first, then deleted from the offset-syncs topic with a
// tombstone, so that a reader finds it in one or the other throughout.
// It returns how many segments it moved.
func (s *Store) MoveLegacy(ctx context.Context, legacy map[Partition][]offsetmap.Segment) (int, error) {
	var moved, tombstones []*kgo.Record
	for p, segs := range legacy {
		for _, seg := range segs {
			k, v := EncodeSegment(p.Topic, p.Partition, seg)
			moved = append(moved, &kgo.Record{Topic: s.f.OffsetMapTopic(), Key: k, Value: v})
			tombstones = append(tombstones, &kgo.Record{Topic: s.syncsTopic, Key: k})
		}
	}
	if len(moved) == 0 {
		return 0, nil
	}
	if err := s.target.ProduceSync(ctx, moved...).FirstErr(); err != nil {
		return 0, fmt.Errorf("move the offset map to %q: %w", s.f.OffsetMapTopic(), err)
	}
	if err := s.syncs.ProduceSync(ctx, tombstones...).FirstErr(); err != nil {
		return 0, fmt.Errorf("delete the offset map moved out of %q: %w", s.syncsTopic, err)
	}
	return len(moved), nil
}

// CarryMM2 writes MirrorMaker 2's offset syncs of partitions kmirror takes
// over into the flow's offset-syncs topic, in MM2's format, so that a
// restarted worker still translates what MM2 copied: for the syncs MM2
// wrote at the other location.
func (s *Store) CarryMM2(ctx context.Context, syncs map[Partition]mm2.History) error {
	var recs []*kgo.Record
	for p, h := range syncs {
		for _, sync := range h {
			k, v := mm2.EncodeSync(p, sync)
			recs = append(recs, &kgo.Record{Topic: s.syncsTopic, Key: k, Value: v})
		}
	}
	if len(recs) == 0 {
		return nil
	}
	if err := s.syncs.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("carry MirrorMaker 2's offset syncs over to %q: %w", s.syncsTopic, err)
	}
	return nil
}

// syncsCluster is the cluster of src and tgt that holds flow f's offset
// syncs.
func syncsCluster(f *config.Flow, src, tgt *config.Cluster) *config.Cluster {
	if at, _ := f.OffsetSyncs(); at == src.Alias {
		return src
	}
	return tgt
}
