package mirror

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// PartitionStatus is how one source partition is being copied.
type PartitionStatus struct {
	Topic, Target string
	Partition     int32
	// Start is the first source offset the offset map covers; Next the
	// next source offset to copy.
	Start, Next int64
	Stopped     string
	Gaps        []Gap
	// Segments is the number of segments of the offset map.
	Segments int
}

// Status returns the state of every partition, sorted, and the counts of
// overtaken partitions and of source offsets lost to retention.
func (fl *Flow) Status() (parts []PartitionStatus, overtaken, lost int64) {
	fl.mu.Lock()
	for _, p := range fl.parts {
		p.mu.Lock()
		parts = append(parts, PartitionStatus{Topic: p.key.Topic, Target: p.target, Partition: p.key.Partition,
			Start: p.m.Start(), Next: p.m.End().Source, Stopped: p.stopped, Gaps: slices.Clone(p.gaps),
			Segments: len(p.m.Segments())})
		p.mu.Unlock()
	}
	r := fl.retention
	fl.mu.Unlock()
	slices.SortFunc(parts, func(a, b PartitionStatus) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	if r == nil {
		return parts, 0, 0 // not started
	}
	return parts, r.overtaken.Load(), r.lost.Load()
}

// Blocked returns the selected topics that cannot be copied, and why.
func (fl *Flow) Blocked() []discover.Blocked {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return slices.Clone(fl.blocked)
}

// Copied implements progress.View for the partitions this worker copies;
// ok is false for the others. It reads nothing from the clusters.
func (fl *Flow) Copied(_ context.Context, tp progress.Partition) (progress.Copied, bool, error) {
	fl.mu.Lock()
	p := fl.parts[tp]
	fl.mu.Unlock()
	if p == nil {
		return progress.Copied{}, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	next := p.m.End().Source
	if p.slot != nil {
		next = p.committed // what an open transaction holds may yet abort
	}
	if next != p.seen {
		p.seen, p.moved = next, time.Now()
	}
	return progress.Copied{Start: p.m.Start(), Next: next, Stopped: p.stopped, Moved: p.moved}, true, nil
}

// Saved reads what the flow's workers persisted (the partitions other
// workers copy included): from the flow's cache, which catches up with
// what was written since its last read, or, before the run opened it,
// from the clusters.
func (fl *Flow) Saved(ctx context.Context) (progress.Snapshot, error) {
	fl.mu.Lock()
	c := fl.cache
	fl.mu.Unlock()
	if c == nil {
		return progress.Read(ctx, fl.cfg, fl.src, fl.tgt, fl.log)
	}
	s, _, err := c.Read(ctx)
	return s, err
}

// Tasks is the number of tasks the flow runs.
func (fl *Flow) Tasks() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return len(fl.tasks)
}

// Translate implements progress.View for the partitions this worker
// copies; ok is false for the others. It reads nothing from the clusters.
func (fl *Flow) Translate(_ context.Context, tp progress.Partition, g int64) (progress.Translation, bool, error) {
	fl.mu.Lock()
	p := fl.parts[tp]
	fl.mu.Unlock()
	if p == nil {
		return progress.Translation{}, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slot != nil && g > p.committed {
		// Past what is committed: a group resuming there could read again
		// what an aborted transaction's records are copied again as.
		return progress.Translation{Target: p.target, Result: offsetmap.NotYetMirrored}, true, nil
	}
	tr := progress.Translate(p.m, p.mm2, g)
	tr.Target = p.target
	return tr, true, nil
}
