package progress

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// Cache follows a flow's progress and offset-syncs topics: the first read
// reads them whole, each later one only what was written since. A running
// worker keeps one for its life, so that neither a new assignment nor a
// status report reads the topics whole again.
type Cache struct {
	log *slog.Logger

	mu              sync.Mutex
	progress, syncs *cluster.Tail
	progressTopic   string
	syncsTopic      string
	marks           map[Partition]Mark
	segments        map[Partition]map[int64]offsetmap.Segment
	mm2             map[Partition]mm2.History
	// snap and snapMM2 are what Read hands out, nil once more was read:
	// copies, since the maps above change in place as more is read.
	snap    Snapshot
	snapMM2 map[Partition]mm2.History
}

// NewCache prepares a Cache of flow f's topics; nothing is read before
// Read. Close it when done.
func NewCache(f *config.Flow, src, tgt *config.Cluster, log *slog.Logger) (*Cache, error) {
	c := &Cache{log: log, progressTopic: f.ProgressTopic(), marks: map[Partition]Mark{},
		segments: map[Partition]map[int64]offsetmap.Segment{}, mm2: map[Partition]mm2.History{}}
	var err error
	if c.progress, err = cluster.NewTail(cluster.Options(tgt, log), c.progressTopic, c.takeMark); err != nil {
		return nil, err
	}
	_, c.syncsTopic = f.OffsetSyncs()
	if c.syncs, err = cluster.NewTail(cluster.Options(syncsCluster(f, src, tgt), log), c.syncsTopic, c.takeSync); err != nil {
		c.progress.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the Cache's clients.
func (c *Cache) Close() {
	c.progress.Close()
	c.syncs.Close()
}

// Read catches up with both topics and returns what they hold: the saved state of every partition with a
// progress, and MirrorMaker 2's offset syncs of every partition, those
// kmirror has no progress for included (the two share the offset-syncs
// topic). Unreadable records are logged and skipped, as a restarting
// worker does. The results are shared by every caller until more is read,
// and must not be changed: a caller that copies from a Saved map restores
// its own (Saved.CopyMap).
func (c *Cache) Read(ctx context.Context) (Snapshot, map[Partition]mm2.History, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The progress first: a flush writes a mark only after the segments
	// below its end, so the syncs read up to their end after that hold
	// the segments of every mark read. The other way round a mark written
	// between the two reads names segments the read missed, and the map
	// restored from it translates wrongly.
	if err := c.progress.CatchUp(ctx); err != nil {
		return nil, nil, err
	}
	if err := c.syncs.CatchUp(ctx); err != nil {
		return nil, nil, err
	}
	if c.snap == nil {
		c.snapMM2 = make(map[Partition]mm2.History, len(c.mm2))
		for p, h := range c.mm2 {
			c.snapMM2[p] = slices.Clone(h)
		}
		c.snap = make(Snapshot, len(c.marks))
		for p, m := range c.marks {
			segs := make([]offsetmap.Segment, 0, len(c.segments[p]))
			for _, s := range c.segments[p] {
				segs = append(segs, s)
			}
			c.snap[p] = Saved{Mark: m, Map: offsetmap.Restore(m.Start, m.End, segs), MM2: c.snapMM2[p]}
		}
	}
	return c.snap, c.snapMM2, nil
}

func (c *Cache) takeMark(r *kgo.Record) {
	c.snap = nil
	takeMark(c.marks, r, c.progressTopic, c.log)
}

// takeMark applies a progress record to marks: the latest mark of each
// partition; a tombstone removes it, an unreadable record is logged and
// skipped, as a restarting worker does.
func takeMark(marks map[Partition]Mark, r *kgo.Record, topic string, log *slog.Logger) {
	if r.Value == nil {
		if p, err := DecodeMarkKey(r.Key); err == nil {
			delete(marks, p)
		}
		return
	}
	p, m, err := DecodeMark(r.Key, r.Value)
	if err != nil {
		log.Warn("ignoring an unreadable progress record", "topic", topic, "err", err)
		return
	}
	m.Written = r.Timestamp
	marks[p] = m
}

func (c *Cache) takeSync(r *kgo.Record) {
	c.snap = nil
	sk, ok, err := DecodeSegmentKey(r.Key)
	switch {
	case ok && err != nil:
		c.log.Warn("ignoring an unreadable offset sync", "topic", c.syncsTopic, "err", err)
	case ok:
		p := Partition{sk.Topic, sk.Partition}
		if r.Value == nil {
			delete(c.segments[p], sk.Source)
			return
		}
		target, count, err := DecodeSegmentValue(r.Value)
		if err != nil {
			c.log.Warn("ignoring an unreadable offset sync", "topic", c.syncsTopic, "err", err)
			return
		}
		if c.segments[p] == nil {
			c.segments[p] = map[int64]offsetmap.Segment{}
		}
		c.segments[p][sk.Source] = offsetmap.Segment{Source: sk.Source, Target: target, Count: count}
	case r.Value == nil: // MM2 writes no tombstones; nothing to forget
	default:
		mp, s, ok, err := mm2.DecodeSync(r.Key, r.Value)
		if err != nil {
			c.log.Warn("ignoring an unreadable MirrorMaker 2 offset sync", "topic", c.syncsTopic, "err", err)
		}
		if ok {
			p := Partition{mp.Topic, mp.Partition}
			c.mm2[p] = c.mm2[p].Add(s)
		}
	}
}

// Read reads what flow f persisted on the clusters once: for a command
// that inspects a migration from outside the running workers.
func Read(ctx context.Context, f *config.Flow, src, tgt *config.Cluster, log *slog.Logger) (Snapshot, error) {
	c, err := NewCache(f, src, tgt, log)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s, _, err := c.Read(ctx)
	return s, err
}

// ReadNext reads where flow f has copied each source partition up to: the
// next source offset to copy, from the progress topic alone (not the
// offset map), for the checks that need no translation.
func ReadNext(ctx context.Context, f *config.Flow, tgt *config.Cluster, log *slog.Logger) (map[Partition]int64, error) {
	marks := map[Partition]Mark{}
	topic := f.ProgressTopic()
	if err := cluster.ScanTopic(ctx, cluster.Options(tgt, log), topic, func(r *kgo.Record) { takeMark(marks, r, topic, log) }); err != nil {
		return nil, err
	}
	out := make(map[Partition]int64, len(marks))
	for p, m := range marks {
		out[p] = m.End.Source
	}
	return out, nil
}
