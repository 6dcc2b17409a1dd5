package progress

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// View is what kmirror knows of a flow's source partitions, as one reader
// sees it: a running worker (from memory, for the partitions it copies) or
// a command (from the clusters). Every method may read the clusters, under
// ctx; ok is false when nothing of the partition is known to be copied.
type View interface {
	// Copied says how far a source partition is copied, and whether it is
	// stopped.
	Copied(ctx context.Context, p Partition) (c Copied, ok bool, err error)
	// Translate translates the committed source offset g of a partition:
	// exactly, or as MirrorMaker 2 would below where kmirror took the
	// partition over from it.
	Translate(ctx context.Context, p Partition, g int64) (t Translation, ok bool, err error)
}

// Copied is how far one source partition is copied.
type Copied struct {
	// Start is the first source offset the offset map covers; Next the
	// next source offset to copy.
	Start, Next int64
	// Stopped says why copying the partition stopped, when it did.
	Stopped string
	// Moved is when Next last moved, as far as the view knows: when its
	// progress was last persisted, or a worker's own record of it; zero
	// when unknown.
	Moved time.Time
}

// Translation is a committed source offset translated to the target.
type Translation struct {
	Target string // the target topic (empty from the saved state)
	Offset int64
	Result offsetmap.Result
	// MM2 says the offset lies in the range MirrorMaker 2 copied before
	// kmirror took the partition over, and was translated from MM2's
	// offset syncs as MM2 translates it: Result is then Exact in the sense
	// of "translated", and the group may read again up to offset.lag.max
	// records MM2 copied, never skip one; or Expired, below every sync
	// MM2 left. Without MM2 a translation is exact: the group resumes at
	// the record after its last one.
	MM2 bool
}

// Translate translates the committed offset g of a partition with its
// exact map m, and, below what m covers, with MM2's syncs h.
func Translate(m *offsetmap.Map, h mm2.History, g int64) Translation {
	off, res := m.Translate(g)
	if res == offsetmap.Expired && len(h) > 0 {
		mo, ok := h.Translate(g)
		if !ok {
			// Below every MM2 sync left: MM2 could not translate it either.
			return Translation{Offset: off, Result: res, MM2: true}
		}
		return Translation{Offset: mo, Result: offsetmap.Exact, MM2: true}
	}
	return Translation{Offset: off, Result: res}
}

// Saved is what a flow persisted about one source partition.
type Saved struct {
	Mark
	// Map is the exact offset map: its Start is the first source offset it
	// covers, its End the next source offset to copy and the next target
	// offset.
	Map *offsetmap.Map
	// MM2 are MirrorMaker 2's offset syncs of the partition, when kmirror
	// took it over from MM2: they translate the offsets below Map's start.
	MM2 mm2.History
}

// CopyMap returns a map of its own with what the saved map holds, for a
// worker that copies on from it: a Saved is shared and never changed.
func (s Saved) CopyMap() *offsetmap.Map {
	return offsetmap.Restore(s.Map.Start(), s.Map.End(), s.Map.Segments())
}

// Snapshot is what a flow persisted on the clusters, as a restarted worker
// finds it. It is a View that reads nothing more.
type Snapshot map[Partition]Saved

// Copied implements View. A saved partition is never stopped: only the
// worker that copies it knows that (see Stopped for what a reader outside
// the workers can tell).
func (s Snapshot) Copied(_ context.Context, p Partition) (Copied, bool, error) {
	sp, ok := s[p]
	if !ok {
		return Copied{}, false, nil
	}
	return Copied{Start: sp.Map.Start(), Next: sp.Map.End().Source, Moved: sp.Written}, true, nil
}

// Translate implements View.
func (s Snapshot) Translate(_ context.Context, p Partition, g int64) (Translation, bool, error) {
	sp, ok := s[p]
	if !ok {
		return Translation{}, false, nil
	}
	return Translate(sp.Map, sp.MM2, g), true, nil
}

// Reasons a worker stops copying a partition, which a reader outside the
// workers can tell from the progress and the source's log too.
const (
	// ReasonTruncated: the next offset to copy lies past the source's log
	// end.
	ReasonTruncated = "the source log ends before the next offset to copy (truncated after an unclean leader election?); partition stopped"
)

// ReasonOvertaken says that the source's retention deleted the offsets
// from next up to logStart before they were copied, with
// retention.overtaken.policy=stop.
func ReasonOvertaken(next, logStart int64) string {
	return fmt.Sprintf("the source deleted offsets %d to %d before they were copied; partition stopped (retention.overtaken.policy=stop): "+
		"set it to skip to accept the loss, or re-copy the topic", next, logStart-1)
}

// Layered is a running worker's View: it answers from live (the
// partitions the worker copies), and from what saved returns for the
// others, calling saved at most once.
func Layered(live View, saved func(context.Context) (Snapshot, error)) View {
	return &layered{live: live, saved: saved}
}

type layered struct {
	live  View
	saved func(context.Context) (Snapshot, error)

	mu   sync.Mutex
	snap Snapshot
	err  error
	read bool
}

func (l *layered) others(ctx context.Context) (Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.read {
		l.snap, l.err = l.saved(ctx)
		l.read = true
	}
	return l.snap, l.err
}

func (l *layered) Copied(ctx context.Context, p Partition) (Copied, bool, error) {
	if c, ok, err := l.live.Copied(ctx, p); ok || err != nil {
		return c, ok, err
	}
	s, err := l.others(ctx)
	if err != nil {
		return Copied{}, false, err
	}
	return s.Copied(ctx, p)
}

func (l *layered) Translate(ctx context.Context, p Partition, g int64) (Translation, bool, error) {
	if t, ok, err := l.live.Translate(ctx, p, g); ok || err != nil {
		return t, ok, err
	}
	s, err := l.others(ctx)
	if err != nil {
		return Translation{}, false, err
	}
	return s.Translate(ctx, p, g)
}

// PairMap returns the exact map of the flow that copies the same topic
// names the other way, for partition p (the same name on both clusters),
// once it covers the offsets below least of this flow's source when it can
// (it may be older; the caller checks); nil when that flow copies nothing
// into p.
type PairMap func(ctx context.Context, p Partition, least int64) (*offsetmap.Map, error)

// WithPair is the View of a flow whose pair copies the same topic names the
// other way (both directions under identity names), from what the flow
// persisted (own, read at each call; in exactly-once mode, what is
// committed) and the pair's map. A group that read the source up to g has
// read the source's own records below g, and the pair's copies below g:
// on the target, the copies of the first, and the originals of the
// second. It resumes on the target at the first record it has not read of
// either kind (translatePair). With producers on one cluster at a time
// the two clusters hold the records in the same order, and the
// translation is exact; with producers on both at once the order may
// differ, and the group may read some records again, never skip one.
func WithPair(own func(context.Context) (Snapshot, error), pair PairMap) View {
	return &withPair{own: own, pair: pair}
}

type withPair struct {
	own  func(context.Context) (Snapshot, error)
	pair PairMap

	// The last snapshot own returned, reused for pairReuse: a round of
	// translations (every group's every partition) reads it once.
	mu   sync.Mutex
	snap Snapshot
	at   time.Time
}

// pairReuse is how long a WithPair view reuses what own returned.
const pairReuse = 500 * time.Millisecond

func (pv *withPair) saved(ctx context.Context) (Snapshot, error) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if pv.snap != nil && time.Since(pv.at) < pairReuse {
		return pv.snap, nil
	}
	s, err := pv.own(ctx)
	if err != nil {
		return nil, err
	}
	pv.snap, pv.at = s, time.Now()
	return s, nil
}

func (pv *withPair) Copied(ctx context.Context, p Partition) (Copied, bool, error) {
	s, err := pv.saved(ctx)
	if err != nil {
		return Copied{}, false, err
	}
	return s.Copied(ctx, p)
}

func (pv *withPair) Translate(ctx context.Context, p Partition, g int64) (Translation, bool, error) {
	s, err := pv.saved(ctx)
	if err != nil {
		return Translation{}, false, err
	}
	tr, ok, err := s.Translate(ctx, p, g)
	// Both ways under the same names: the target topic is the source's.
	tr.Target = p.Topic
	if !ok || err != nil || tr.Result != offsetmap.Exact || tr.MM2 {
		return tr, ok, err
	}
	m, err := pv.pair(ctx, p, g)
	if err != nil || m == nil {
		return tr, ok, err
	}
	tr.Offset, tr.Result = translatePair(s[p].Map, m, g)
	return tr, ok, nil
}

// translatePair translates offset g of a partition of one cluster X to the
// other, Y, when own copies X to Y and pair Y to X under the same names. A
// group that read X below g read X's own records below g and the pair's
// copies below g; on Y it resumes at the first record it has not read:
// the first own copy of an X record at or after g (own.Translate), or the
// first Y record whose copy on X lies at or after g (pair.Back), whichever
// comes first. Where one map answers with its end (it copied nothing at or
// after g), it has not read on from there: when records the group read lie
// between that end and the other's answer, the translation waits
// (NotYetMirrored) rather than make the group read them again.
func translatePair(own, pair *offsetmap.Map, g int64) (int64, offsetmap.Result) {
	a, res := own.Translate(g)
	if res != offsetmap.Exact {
		return 0, res
	}
	b, res := pair.Back(g)
	if res != offsetmap.Exact {
		return 0, res
	}
	switch {
	case b < a:
		if _, copied := pair.FirstTarget(g); !copied {
			// b is the pair's end: the own copies between it and a are
			// of records below g.
			if t, ok := own.FirstTarget(b); ok && t < a {
				return 0, offsetmap.NotYetMirrored
			}
		}
		return b, offsetmap.Exact
	case a < b:
		if _, copied := own.FirstSource(g); !copied {
			// a is own's end: the Y records between it and b were
			// copied to X below g.
			if s, ok := pair.FirstSource(a); ok && s < b {
				return 0, offsetmap.NotYetMirrored
			}
		}
	}
	return a, offsetmap.Exact
}

// BackWithPair translates a committed target offset t back to the source
// through both maps: own (source → target) and, when the same names are
// copied the other way, pair (target → source; nil otherwise). It is
// WithPair's translation the other way round.
func BackWithPair(own, pair *offsetmap.Map, t int64) (int64, offsetmap.Result) {
	if pair == nil {
		return own.Back(t)
	}
	return translatePair(pair, own, t)
}
