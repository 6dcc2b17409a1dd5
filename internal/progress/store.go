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
// the offset syncs to the cluster offset-syncs.topic.location names, then
// the progress they cover to the target.
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

// Ensure creates the flow's progress and offset-syncs topics, unless they
// exist.
func (s *Store) Ensure(ctx context.Context) error {
	if err := cluster.EnsureInternalTopic(ctx, kadm.NewClient(s.target), s.f.InternalTopic(config.InternalProgress)); err != nil {
		return err
	}
	return cluster.EnsureInternalTopic(ctx, kadm.NewClient(s.syncs), s.f.InternalTopic(config.InternalOffsetSyncs))
}

// Pending is what is to be persisted of one partition: offset-map
// segments to write and to delete, then its mark, when it moved.
type Pending struct {
	Partition         Partition
	Segments, Deletes []offsetmap.Segment
	Mark              *Mark
}

// Empty tells whether there is nothing to persist.
func (p Pending) Empty() bool { return len(p.Segments)+len(p.Deletes) == 0 && p.Mark == nil }

// Flush writes the offset syncs of items, then their marks, each mark
// naming the worker that wrote it. On an error, syncsWritten tells whether
// the offset syncs were written, so that only the marks are to be written
// again.
func (s *Store) Flush(ctx context.Context, worker string, items []Pending) (syncsWritten bool, err error) {
	syncs, marks := s.Records(worker, items)
	if len(syncs) > 0 {
		if err := s.syncs.ProduceSync(ctx, syncs...).FirstErr(); err != nil {
			return false, fmt.Errorf("write offset syncs to %q: %w", s.syncsTopic, err)
		}
	}
	if len(marks) > 0 {
		if err := s.target.ProduceSync(ctx, marks...).FirstErr(); err != nil {
			return true, fmt.Errorf("write progress to %q: %w", s.f.ProgressTopic(), err)
		}
	}
	return true, nil
}

// Records are the records that persist items: the offset syncs (segments,
// and tombstones for the deleted ones), and the marks, each naming the
// worker that wrote it. An exactly-once flow writes both in its
// transactions.
func (s *Store) Records(worker string, items []Pending) (syncs, marks []*kgo.Record) {
	header := []kgo.RecordHeader{{Key: WorkerHeader, Value: []byte(worker)}}
	for _, it := range items {
		for _, seg := range it.Segments {
			k, v := EncodeSegment(it.Partition.Topic, it.Partition.Partition, seg)
			syncs = append(syncs, &kgo.Record{Topic: s.syncsTopic, Key: k, Value: v})
		}
		for _, seg := range it.Deletes {
			k, _ := EncodeSegment(it.Partition.Topic, it.Partition.Partition, seg)
			syncs = append(syncs, &kgo.Record{Topic: s.syncsTopic, Key: k}) // a tombstone
		}
		if it.Mark != nil {
			k, v := EncodeMark(it.Partition, *it.Mark)
			marks = append(marks, &kgo.Record{Topic: s.f.ProgressTopic(), Key: k, Value: v, Headers: header})
		}
	}
	return syncs, marks
}

// CarryMM2 writes MirrorMaker 2's offset syncs of partitions kmirror takes
// over into the flow's offset-syncs topic, in MM2's format, so that a
// restarted worker still translates what MM2 copied: for the syncs MM2
// wrote at the other location.
func (s *Store) CarryMM2(ctx context.Context, syncs map[Partition]mm2.History) error {
	var recs []*kgo.Record
	for p, h := range syncs {
		for _, sync := range h {
			k, v := mm2.EncodeSync(mm2.Partition{Topic: p.Topic, Partition: p.Partition}, sync)
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

// Write persists what flow f knows about one source partition, as a
// running flow does, with clients of its own. The flow must not be
// running for the partition, or the two would overwrite each other; the
// topics must exist (a flow creates them when it first starts). Tests use
// it to set up a saved state that copying alone does not produce.
func Write(ctx context.Context, f *config.Flow, src, tgt *config.Cluster, p Partition, sv Saved) error {
	syncs, err := kgo.NewClient(cluster.Options(syncsCluster(f, src, tgt), nil)...)
	if err != nil {
		return err
	}
	defer syncs.Close()
	target, err := kgo.NewClient(cluster.Options(tgt, nil)...)
	if err != nil {
		return err
	}
	defer target.Close()
	m := sv.Mark
	m.Start, m.End = sv.Map.Start(), sv.Map.End()
	_, err = NewStore(f, syncs, target).Flush(ctx, "", []Pending{{Partition: p, Segments: sv.Map.Segments(), Mark: &m}})
	if err != nil {
		return fmt.Errorf("write the progress of %s[%d]: %w", p.Topic, p.Partition, err)
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
