package progress

import (
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// The cache makes a new snapshot only for the partitions read about since
// the last one; a snapshot handed out before does not change.
func TestCacheSnapshotsOnlyWhatChanged(t *testing.T) {
	c := &Cache{log: slog.New(slog.DiscardHandler), progressTopic: "p", mapTopic: "m", syncsTopic: "s",
		marks: map[Partition]Mark{}, segments: map[Partition]map[int64]offsetmap.Segment{},
		legacy: map[Partition]map[int64]offsetmap.Segment{}, mm2: map[Partition]mm2.History{}, dirty: map[Partition]bool{}}
	a, b := Partition{Topic: "orders"}, Partition{Topic: "orders", Partition: 1}
	mark := func(p Partition, end int64) {
		k, v := EncodeMark(p, Mark{ClusterID: "c", Start: 5, End: offsetmap.Segment{Source: end, Target: end}})
		c.takeMark(&kgo.Record{Key: k, Value: v})
	}
	for _, p := range []Partition{a, b} {
		k, v := EncodeSegment(p.Topic, p.Partition, offsetmap.Segment{Source: 5, Target: 5, Count: 5})
		c.takeSegment(&kgo.Record{Key: k, Value: v})
		mark(p, 10)
	}
	// MM2's sync below kmirror's start, which its history keeps.
	k, v := mm2.EncodeSync(mm2.Partition{Topic: "orders", Partition: 1}, mm2.Sync{Upstream: 3, Downstream: 3})
	c.takeSync(&kgo.Record{Key: k, Value: v})
	c.snapshot()
	first, firstMM2 := c.snap, c.snapMM2
	if len(first) != 2 || len(firstMM2) != 1 {
		t.Fatalf("first snapshot: %v, MM2 %v", first, firstMM2)
	}

	c.snapshot() // nothing read since: the same snapshot
	if len(c.dirty) != 0 || c.snap[a].Map != first[a].Map {
		t.Errorf("a snapshot with nothing new read was made anew")
	}
	mark(b, 20)
	c.snapshot()
	if got := c.snap[b].Map.End().Source; got != 20 {
		t.Errorf("partition b after its new mark ends at %d, want 20", got)
	}
	if c.snap[a].Map != first[a].Map {
		t.Errorf("partition a, not read about, was restored anew")
	}
	if got := first[b].Map.End().Source; got != 10 {
		t.Errorf("the snapshot handed out before changed: b ends at %d, want 10", got)
	}
	if len(c.snap[b].MM2) != 1 {
		t.Errorf("partition b lost its MM2 history: %v", c.snap[b].MM2)
	}

	c.takeMark(&kgo.Record{Key: func() []byte { k, _ := EncodeMark(a, Mark{}); return k }()}) // a tombstone
	second := c.snap
	c.snapshot()
	if _, ok := c.snap[a]; ok {
		t.Errorf("partition a is still in the snapshot after its tombstone")
	}
	if _, ok := second[a]; !ok {
		t.Errorf("the snapshot handed out before lost partition a")
	}
}
