package progress

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// Cache follows a flow's progress, offset-map and offset-syncs topics:
// the first read reads them whole, each later one only what was written
// since. A running worker keeps one for its life, so that neither a new
// assignment nor a status report reads the topics whole again.
type Cache struct {
	log *slog.Logger

	mu                    sync.Mutex
	progress, maps, syncs *cluster.Tail
	progressTopic         string
	mapTopic, syncsTopic  string
	marks                 map[Partition]Mark
	segments              map[Partition]map[int64]offsetmap.Segment
	// legacy are the segments an older kmirror wrote into the offset-syncs
	// topic, which MM2 reads, before the map had a topic of its own: they
	// count where the map's topic has none, until they are moved
	// (MoveLegacy).
	legacy map[Partition]map[int64]offsetmap.Segment
	mm2    map[Partition]mm2.History
	// snap and snapMM2 are what Read hands out, nil before the first:
	// copies, since the maps above change in place as more is read.
	// dirty are the partitions read about since they were made.
	snap    Snapshot
	snapMM2 map[Partition]mm2.History
	dirty   map[Partition]bool
}

// NewCache prepares a Cache of flow f's topics; nothing is read before
// Read. Close it when done.
func NewCache(f *config.Flow, src, tgt *config.Cluster, log *slog.Logger) (*Cache, error) {
	c := &Cache{log: log, progressTopic: f.ProgressTopic(), mapTopic: f.OffsetMapTopic(), marks: map[Partition]Mark{},
		segments: map[Partition]map[int64]offsetmap.Segment{}, legacy: map[Partition]map[int64]offsetmap.Segment{},
		mm2: map[Partition]mm2.History{}, dirty: map[Partition]bool{}}
	_, c.syncsTopic = f.OffsetSyncs()
	var tails []*cluster.Tail
	for _, t := range []struct {
		cl    *config.Cluster
		topic string
		take  func(*kgo.Record)
		into  **cluster.Tail
	}{
		{tgt, c.progressTopic, c.takeMark, &c.progress},
		{tgt, c.mapTopic, c.takeSegment, &c.maps},
		{syncsCluster(f, src, tgt), c.syncsTopic, c.takeSync, &c.syncs},
	} {
		tail, err := cluster.NewTail(cluster.Options(t.cl, log), t.topic, t.take)
		if err != nil {
			for _, open := range tails {
				open.Close()
			}
			return nil, err
		}
		*t.into = tail
		tails = append(tails, tail)
	}
	return c, nil
}

// Close closes the Cache's clients.
func (c *Cache) Close() {
	c.progress.Close()
	c.maps.Close()
	c.syncs.Close()
}

// Read catches up with the topics and returns what they hold: the saved
// state of every partition with a progress, and MirrorMaker 2's offset
// syncs of every partition below what kmirror copied of it (all of them
// where kmirror has no progress). Unreadable records are logged and
// skipped, as a restarting worker does. The results are shared by every
// caller until more is read, and must not be changed: a caller that
// copies from a Saved map restores its own (Saved.CopyMap).
func (c *Cache) Read(ctx context.Context) (Snapshot, map[Partition]mm2.History, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The progress first: a flush writes a mark only after the segments
	// below its end, so the map read up to its end after that holds the
	// segments of every mark read. The other way round a mark written
	// between the two reads names segments the read missed, and the map
	// restored from it translates wrongly. The offset syncs before the
	// map: moving a legacy segment writes it to the map before its
	// tombstone to the syncs, so that a segment gone from the syncs read
	// is in the map read after it.
	for _, t := range []*cluster.Tail{c.progress, c.syncs, c.maps} {
		if err := t.CatchUp(ctx); err != nil {
			return nil, nil, err
		}
	}
	c.snapshot()
	return c.snap, c.snapMM2, nil
}

// snapshot makes what Read hands out from what was read: the first time
// from everything, then anew for the partitions read about since (a
// worker's flush touches those that moved), the others shared with the
// snapshot before.
func (c *Cache) snapshot() {
	if c.snap != nil && len(c.dirty) == 0 {
		return
	}
	if c.snap == nil {
		c.snap, c.snapMM2 = make(Snapshot, len(c.marks)), make(map[Partition]mm2.History, len(c.mm2))
		for p := range c.mm2 {
			c.dirty[p] = true
		}
		for p := range c.marks {
			c.dirty[p] = true
		}
	} else {
		// Callers may still hold the snapshot handed out before.
		c.snap, c.snapMM2 = maps.Clone(c.snap), maps.Clone(c.snapMM2)
	}
	for p := range c.dirty {
		c.rebuild(p)
	}
	clear(c.dirty)
}

// rebuild makes partition p's part of the snapshot anew.
func (c *Cache) rebuild(p Partition) {
	m, marked := c.marks[p]
	if h, ok := c.mm2[p]; ok {
		if marked {
			// kmirror's own syncs, past its start, say less than its
			// exact map: only MM2's up to it are kept.
			h = h.Through(m.Start)
			c.mm2[p] = h
		}
		c.snapMM2[p] = slices.Clone(h)
	} else {
		delete(c.snapMM2, p)
	}
	if !marked {
		delete(c.snap, p)
		return
	}
	segs := make([]offsetmap.Segment, 0, len(c.segments[p])+len(c.legacy[p]))
	for _, s := range c.segments[p] {
		segs = append(segs, s)
	}
	for src, s := range c.legacy[p] {
		if _, moved := c.segments[p][src]; !moved {
			segs = append(segs, s)
		}
	}
	c.snap[p] = Saved{Mark: m, Map: offsetmap.Restore(m.Start, m.End, segs), MM2: c.snapMM2[p]}
}

// Legacy returns the segments an older kmirror left in the offset-syncs
// topic, by partition, as of the last Read.
func (c *Cache) Legacy() map[Partition][]offsetmap.Segment {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[Partition][]offsetmap.Segment, len(c.legacy))
	for p, segs := range c.legacy {
		for _, s := range segs {
			out[p] = append(out[p], s)
		}
	}
	return out
}

func (c *Cache) takeMark(r *kgo.Record) {
	if p, ok := takeMark(c.marks, r, c.progressTopic, c.log); ok {
		c.dirty[p] = true
	}
}

// takeMark applies a progress record to marks: the latest mark of each
// partition; a tombstone removes it, an unreadable record is logged and
// skipped, as a restarting worker does. It returns the partition changed.
func takeMark(marks map[Partition]Mark, r *kgo.Record, topic string, log *slog.Logger) (Partition, bool) {
	if r.Value == nil {
		p, err := DecodeMarkKey(r.Key)
		if err == nil {
			delete(marks, p)
		}
		return p, err == nil
	}
	p, m, err := DecodeMark(r.Key, r.Value)
	if err != nil {
		log.Warn("ignoring an unreadable progress record", "topic", topic, "err", err)
		return p, false
	}
	m.Written = r.Timestamp
	marks[p] = m
	return p, true
}

// takeSegment applies a record of the offset-map topic.
func (c *Cache) takeSegment(r *kgo.Record) {
	sk, ok, err := DecodeSegmentKey(r.Key)
	if !ok || err != nil {
		c.log.Warn("ignoring an unreadable offset-map record", "topic", c.mapTopic, "err", err)
		return
	}
	takeSegment(c.segments, sk, r.Value, c.mapTopic, c.log)
	c.dirty[Partition{Topic: sk.Topic, Partition: sk.Partition}] = true
}

// takeSegment applies a segment record to segs: a tombstone deletes it.
func takeSegment(segs map[Partition]map[int64]offsetmap.Segment, sk SegmentKey, value []byte, topic string, log *slog.Logger) {
	p := Partition{Topic: sk.Topic, Partition: sk.Partition}
	if value == nil {
		delete(segs[p], sk.Source)
		return
	}
	target, count, err := DecodeSegmentValue(value)
	if err != nil {
		log.Warn("ignoring an unreadable offset-map record", "topic", topic, "err", err)
		return
	}
	if segs[p] == nil {
		segs[p] = map[int64]offsetmap.Segment{}
	}
	segs[p][sk.Source] = offsetmap.Segment{Source: sk.Source, Target: target, Count: count}
}

// takeSync applies a record of the offset-syncs topic: MM2's format, from
// MM2 or from kmirror, or a segment an older kmirror wrote there.
func (c *Cache) takeSync(r *kgo.Record) {
	sk, ok, err := DecodeSegmentKey(r.Key)
	switch {
	case ok && err != nil:
		c.log.Warn("ignoring an unreadable offset sync", "topic", c.syncsTopic, "err", err)
	case ok:
		takeSegment(c.legacy, sk, r.Value, c.syncsTopic, c.log)
		c.dirty[Partition{Topic: sk.Topic, Partition: sk.Partition}] = true
	case r.Value == nil: // MM2 writes no tombstones; nothing to forget
	default:
		mp, s, ok, err := mm2.DecodeSync(r.Key, r.Value)
		if err != nil {
			c.log.Warn("ignoring an unreadable MirrorMaker 2 offset sync", "topic", c.syncsTopic, "err", err)
		}
		if ok {
			p := mp
			c.mm2[p] = c.mm2[p].Add(s)
			c.dirty[p] = true
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
