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

// Status returns the state of every partition this worker copies,
// sorted, and the counts of overtaken partitions and of source offsets
// lost to retention.
func (fl *Flow) Status() (parts []PartitionStatus, overtaken, lost int64) {
	r := fl.run.Load()
	if r == nil {
		return nil, 0, 0 // not started
	}
	for _, p := range r.copier.partitions(nil) {
		p.mu.Lock()
		parts = append(parts, PartitionStatus{Topic: p.key.Topic, Target: p.target, Partition: p.key.Partition,
			Start: p.m.Start(), Next: p.m.End().Source, Stopped: p.stopped, Gaps: slices.Clone(p.gaps),
			Segments: len(p.m.Segments())})
		p.mu.Unlock()
	}
	slices.SortFunc(parts, func(a, b PartitionStatus) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return parts, r.retention.overtaken.Load(), r.retention.lost.Load()
}

// Blocked returns the selected topics that cannot be copied, and why.
func (fl *Flow) Blocked() []discover.Blocked { return fl.cat.Blocked() }

// Saved reads what the flow's workers persisted (the partitions other
// workers copy included): from the run's cache, which catches up with
// what was written since its last read, or, when the flow does not run,
// from the clusters.
func (fl *Flow) Saved(ctx context.Context) (progress.Snapshot, error) {
	r := fl.run.Load()
	if r == nil {
		return progress.Read(ctx, fl.cfg, fl.src, fl.tgt, fl.log)
	}
	s, _, err := r.starter.cache.Read(ctx)
	return s, err
}

// Tasks is the number of tasks the flow runs.
func (fl *Flow) Tasks() int {
	if r := fl.run.Load(); r != nil {
		return r.copier.taskCount()
	}
	return 0
}

// Scope says which partitions a flow's View answers for.
type Scope int

const (
	// Own answers for the partitions this worker copies, and for no
	// other. Checkpoints are written through it: with several workers
	// each writes the checkpoints of the partitions it copies, from its
	// own state, and every checkpoint is written by exactly one of them.
	Own Scope = iota
	// All answers for every partition of the flow: those this worker
	// copies from its own state, the others from what their workers
	// persisted. The status reads through it.
	All
)

// View is the flow's progress.View for scope. Without a pair, it answers
// from this worker's partitions in memory (Own), then from what the
// workers persisted (All). With one, every translation goes through both
// flows' maps as persisted (progress.WithPair; in exactly-once mode that
// is what is committed), restricted to this worker's partitions for Own. The view holds nothing of a run: made before Run, it answers
// from the run under way when there is one. What other workers persisted
// is read once per View(All), at its first question: make one per round
// of questions (a status report).
func (fl *Flow) View(scope Scope) progress.View {
	if fl.pair != nil {
		v := fl.pairView()
		if scope == Own {
			return ownView{fl: fl, View: v}
		}
		return v
	}
	if scope == Own {
		return live{fl}
	}
	return progress.Layered(live{fl}, fl.Saved)
}

// ownView restricts a View to the partitions this worker copies.
type ownView struct {
	progress.View
	fl *Flow
}

func (o ownView) copies(p progress.Partition) bool {
	r := o.fl.run.Load()
	return r != nil && r.copier.partition(p) != nil
}

func (o ownView) Copied(ctx context.Context, p progress.Partition) (progress.Copied, bool, error) {
	if !o.copies(p) {
		return progress.Copied{}, false, nil
	}
	return o.View.Copied(ctx, p)
}

func (o ownView) Translate(ctx context.Context, p progress.Partition, g int64) (progress.Translation, bool, error) {
	if !o.copies(p) {
		return progress.Translation{}, false, nil
	}
	return o.View.Translate(ctx, p, g)
}

// live is the View of the partitions this worker copies, from memory; ok
// is false for the others. It reads nothing from the clusters.
type live struct{ fl *Flow }

func (l live) partition(tp progress.Partition) *partition {
	r := l.fl.run.Load()
	if r == nil {
		return nil
	}
	return r.copier.partition(tp)
}

func (l live) Copied(_ context.Context, tp progress.Partition) (progress.Copied, bool, error) {
	p := l.partition(tp)
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

func (l live) Translate(_ context.Context, tp progress.Partition, g int64) (progress.Translation, bool, error) {
	p := l.partition(tp)
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
