package offsetmap

import (
	"fmt"
	"sort"
)

// Segment says that Count copied source records from offset Source on
// became the target records from offset Target on, one for one. The last
// segment of a map is open (Count 0) while copying extends it.
type Segment struct {
	Source int64
	Target int64
	Count  int64
}

// Result says how a translation went.
type Result int

const (
	// Exact: the target offset is that of the first copied record at or
	// after the source offset, or the target end at the mirrored end.
	Exact Result = iota
	// NotYetMirrored: the source offset is past what has been copied.
	NotYetMirrored
	// Expired: the source offset is below what the map still covers.
	Expired
)

func (r Result) String() string {
	switch r {
	case Exact:
		return "exact"
	case NotYetMirrored:
		return "not yet mirrored"
	}
	return "expired"
}

// Map is the exact offset map of one partition: its segments and the mirrored
// range [Start, End.Source) of source offsets, with End.Target the next
// target offset. It is not safe for concurrent use.
type Map struct {
	start int64
	end   Segment
	segs  []Segment
	// open says the last segment still grows with contiguous records.
	open bool
}

// New starts the map of a partition whose copying starts at source offset
// start, with target the next target offset.
func New(start, target int64) *Map {
	return &Map{start: start, end: Segment{Source: start, Target: target}}
}

// Restore rebuilds a map from persisted segments and range. What lies at or
// past the persisted end (written before a crash lost the end) is dropped:
// those records will be copied again. The restored last segment is closed,
// so copying continues in a new segment.
func Restore(start int64, end Segment, segs []Segment) *Map {
	p := &Map{start: start, end: Segment{Source: end.Source, Target: end.Target}}
	sorted := append([]Segment(nil), segs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Source < sorted[j].Source })
	for i, s := range sorted {
		if s.Source >= end.Source || s.Target >= end.Target {
			break
		}
		if n := len(p.segs); n > 0 && (s.Source <= p.segs[n-1].lastSource() || s.Target <= p.segs[n-1].lastTarget()) {
			continue // overlaps its predecessor: stale
		}
		if s.Count == 0 { // left open: it ends where the next begins
			limit := end
			if i+1 < len(sorted) {
				limit = sorted[i+1]
			}
			s.Count = min(limit.Source-s.Source, limit.Target-s.Target)
		}
		s.Count = min(s.Count, end.Source-s.Source, end.Target-s.Target)
		p.segs = append(p.segs, s)
	}
	p.dropBelow(start)
	return p
}

func (s Segment) lastSource() int64 { return s.Source + s.Count - 1 }
func (s Segment) lastTarget() int64 { return s.Target + s.Count - 1 }

// Start is the first source offset the map covers.
func (p *Map) Start() int64 { return p.start }

// End is the next source offset to copy and the next target offset.
func (p *Map) End() Segment { return p.end }

// Segments returns the segments, oldest first; the open one has its current
// count. The slice must not be changed.
func (p *Map) Segments() []Segment {
	if p.open {
		p.segs[len(p.segs)-1].Count = p.end.Target - p.segs[len(p.segs)-1].Target
	}
	return p.segs
}

// Observe records that the source record at offset source was written at
// target offset target; calls come in copy order. It returns the segments
// to persist: none while the open segment grows, else the segment it closed
// (with its count) and the new open one.
func (p *Map) Observe(source, target int64) ([]Segment, error) {
	if source < p.end.Source || target < p.end.Target {
		return nil, fmt.Errorf("record %d→%d is behind the mirrored end %d→%d", source, target, p.end.Source, p.end.Target)
	}
	n := len(p.segs)
	if p.open {
		last := p.segs[n-1]
		count := p.end.Target - last.Target
		if source == last.Source+count && target == last.Target+count {
			p.end = Segment{Source: source + 1, Target: target + 1}
			return nil, nil
		}
	}
	var out []Segment
	if p.open {
		p.segs[n-1].Count = p.end.Target - p.segs[n-1].Target
		out = append(out, p.segs[n-1])
	}
	p.segs = append(p.segs, Segment{Source: source, Target: target})
	p.open = true
	p.end = Segment{Source: source + 1, Target: target + 1}
	return append(out, p.segs[len(p.segs)-1]), nil
}

// ObserveRange records that the n source records from offset source on
// were written one for one at target offsets from target on, as a
// forwarded batch is: the same as n calls of Observe.
func (p *Map) ObserveRange(source, target, n int64) ([]Segment, error) {
	if n <= 0 {
		return nil, nil
	}
	segs, err := p.Observe(source, target)
	if err != nil {
		return nil, err
	}
	p.end = Segment{Source: source + n, Target: target + n}
	return segs, nil
}

// Advance moves the mirrored end past source offsets that hold nothing to
// copy: transaction markers, aborted records, compacted-away records.
func (p *Map) Advance(source int64) {
	if source > p.end.Source {
		p.end.Source = source
	}
}

// SkipTarget moves the next target offset up to target, past records the
// target holds after the mirrored end that are no copies of the source's
// next ones: the next copy lands after them, and the mirrored end
// translates to it. It returns the segment it closed, to persist.
func (p *Map) SkipTarget(target int64) []Segment {
	if target <= p.end.Target {
		return nil
	}
	var out []Segment
	if p.open {
		n := len(p.segs)
		p.segs[n-1].Count = p.end.Target - p.segs[n-1].Target
		p.open = false
		out = append(out, p.segs[n-1])
	}
	p.end.Target = target
	return out
}

// count is how many records segment i holds.
func (p *Map) count(i int) int64 {
	if p.open && i == len(p.segs)-1 {
		return p.end.Target - p.segs[i].Target
	}
	return p.segs[i].Count
}

// Translate returns the target offset of the first copied record whose
// source offset is at least g, or the target end when there is none up to
// the mirrored end.
func (p *Map) Translate(g int64) (int64, Result) {
	if g < p.start {
		return 0, Expired
	}
	if g > p.end.Source {
		return 0, NotYetMirrored
	}
	// i is the last segment starting at or before g.
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].Source > g }) - 1
	if i >= 0 && g-p.segs[i].Source < p.count(i) {
		return p.segs[i].Target + (g - p.segs[i].Source), Exact
	}
	if i+1 < len(p.segs) {
		return p.segs[i+1].Target, Exact
	}
	return p.end.Target, Exact
}

// Back translates a committed target offset t back to the source: the
// source offset of the first copied record whose target offset is at least
// t, or the mirrored end when there is none. A group that read the target
// up to t resumes there on the source at the record after its last one:
// every copy below t has its source record below the answer, every copy at
// or after t its source record at or after it. Past the target end the map
// knows no copies (NotYetMirrored: records written to the target by others,
// or copies whose acknowledgement is not persisted yet); a source record
// below Start is gone from the source (Expired).
func (p *Map) Back(t int64) (int64, Result) {
	if t > p.end.Target {
		return 0, NotYetMirrored
	}
	// i is the first segment whose last record's target is at or past t.
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].Target+p.count(i) > t })
	s := p.end.Source
	if i < len(p.segs) {
		s = p.segs[i].Source + max(0, t-p.segs[i].Target)
	}
	if s < p.start {
		return 0, Expired
	}
	return s, Exact
}

// IsCopy reports whether target offset t holds a copy the map knows of.
func (p *Map) IsCopy(t int64) bool {
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].Target+p.count(i) > t })
	return i < len(p.segs) && t >= p.segs[i].Target
}

// FirstTarget returns the first target offset at or after t that holds a
// copy; ok is false when there is none.
func (p *Map) FirstTarget(t int64) (int64, bool) {
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].Target+p.count(i) > t })
	if i == len(p.segs) {
		return 0, false
	}
	return max(t, p.segs[i].Target), true
}

// FirstSource returns the first source offset at or after s that was
// copied; ok is false when there is none.
func (p *Map) FirstSource(s int64) (int64, bool) {
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].Source+p.count(i) > s })
	if i == len(p.segs) {
		return 0, false
	}
	return max(s, p.segs[i].Source), true
}

// Truncate forgets source offsets below logStart, which the source no
// longer holds, and returns the segments it dropped, to delete them.
func (p *Map) Truncate(logStart int64) []Segment {
	if logStart <= p.start {
		return nil
	}
	p.start = min(logStart, p.end.Source)
	return p.dropBelow(p.start)
}

// dropBelow drops the segments whose records all lie below offset, but the
// last of them: Back needs to know where the copies of the forgotten
// records end on the target, so that a group that has not read them all is
// told they are gone from the source.
func (p *Map) dropBelow(offset int64) []Segment {
	i := 0
	for i < len(p.segs) && p.segs[i].Source+p.count(i) <= offset && i < len(p.segs)-1 {
		i++
	}
	if i--; i <= 0 {
		return nil
	}
	dropped := append([]Segment(nil), p.segs[:i]...)
	p.segs = append(p.segs[:0:0], p.segs[i:]...)
	return dropped
}
