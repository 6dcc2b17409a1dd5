package verify

import (
	"bytes"
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/record"
)

// Reasons given for missing and extra records.
const (
	reasonNotCopied = "not in the offset map: never copied"
	reasonNoTarget  = "no target record at its offset"
	reasonStranger  = "not copied from the source: written to the target by something else"
	// reasonGone is formatted with the source offset the record was
	// copied from.
	reasonGone = "copied from source offset %d, which the source no longer holds (compacted or deleted since)"
)

// stream yields the data records of one side of a partition's range, in
// offset order; nil at the end of the range.
type stream interface {
	next(ctx context.Context) (*kgo.Record, error)
}

// walk compares one partition. The segments of the offset map say where
// each copied source record is on the target; source offsets that no
// segment covers were not copied, target offsets that no segment covers
// were not written by the mirror.
type walk struct {
	segs []offsetmap.Segment
	// si and ti are the segments last looked up by source and by target
	// offset; both only move forward, as the logs are read in order.
	si, ti int
	max    int
	p      *Partition
	// back is the map of the flow the other way under the same names,
	// when there is one: which source records it wrote (by its target
	// offsets), and which target records it copied (by its source
	// offsets), up to backEnd.
	back    *walk
	backEnd offsetmap.Segment
	// source and target are the clusters' ids when the flow stamps its
	// copies with provenance headers, nil otherwise: a source record
	// stamped with the target's id came from the target, a target record
	// not stamped with the source's was written there.
	source, target []byte
}

// stampedFrom reports whether r carries the provenance header naming id.
func stampedFrom(r *kgo.Record, id []byte) bool {
	v, ok := record.Origin(r)
	return id != nil && ok && bytes.Equal(v, id)
}

// fromTarget reports whether the source record at offset o was written by
// the flow the other way.
func (w *walk) fromTarget(o int64) bool {
	if w.back == nil {
		return false
	}
	_, ok := w.back.sourceOf(o)
	return ok
}

// onTarget reports whether the target record at offset o was written on
// the target: the flow the other way copied it, or has not read it yet.
func (w *walk) onTarget(o int64) bool {
	if w.back == nil {
		return false
	}
	_, ok := w.back.targetOf(o)
	return ok || o >= w.backEnd.Source
}

// run reads both sides to their ends and counts into w.p.
func (w *walk) run(ctx context.Context, src, tgt stream) error {
	var next *kgo.Record // the target record read but not yet matched
	tgtDone := false
	peek := func() (*kgo.Record, error) {
		if next == nil && !tgtDone {
			r, err := tgt.next(ctx)
			if err != nil {
				return nil, err
			}
			next, tgtDone = r, r == nil
		}
		return next, nil
	}
	for {
		s, err := src.next(ctx)
		if err != nil {
			return err
		}
		if s == nil {
			break
		}
		to, ok := w.targetOf(s.Offset)
		if !ok && (w.fromTarget(s.Offset) || stampedFrom(s, w.target)) {
			w.p.FromTarget++
			continue
		}
		w.p.Compared++
		if !ok {
			w.missing(s.Offset, -1, reasonNotCopied)
			continue
		}
		// Target records before this one's place belong to no source
		// record that is still there.
		for {
			t, err := peek()
			if err != nil {
				return err
			}
			if t == nil || t.Offset >= to {
				break
			}
			w.extra(t)
			next = nil
		}
		if next == nil || next.Offset != to {
			w.missing(s.Offset, to, reasonNoTarget)
			continue
		}
		if fields := record.Diff(s, next); len(fields) > 0 {
			w.p.Altered++
			w.note(Mismatch{Kind: Altered, SourceOffset: s.Offset, TargetOffset: to, Fields: fields})
		} else {
			w.p.Identical++
		}
		next = nil
	}
	for {
		t, err := peek()
		if err != nil {
			return err
		}
		if t == nil {
			return nil
		}
		w.extra(t)
		next = nil
	}
}

// targetOf returns the target offset the source record at offset o was
// copied to; ok is false when it was not copied.
func (w *walk) targetOf(o int64) (int64, bool) {
	for w.si < len(w.segs) && w.segs[w.si].Source+w.segs[w.si].Count <= o {
		w.si++
	}
	if w.si == len(w.segs) || w.segs[w.si].Source > o {
		return 0, false
	}
	s := w.segs[w.si]
	return s.Target + (o - s.Source), true
}

// sourceOf returns the source offset the target record at offset o was
// copied from; ok is false when the mirror did not write it.
func (w *walk) sourceOf(o int64) (int64, bool) {
	for w.ti < len(w.segs) && w.segs[w.ti].Target+w.segs[w.ti].Count <= o {
		w.ti++
	}
	if w.ti == len(w.segs) || w.segs[w.ti].Target > o {
		return 0, false
	}
	s := w.segs[w.ti]
	return s.Source + (o - s.Target), true
}

func (w *walk) missing(src, tgt int64, reason string) {
	w.p.Missing++
	w.note(Mismatch{Kind: Missing, SourceOffset: src, TargetOffset: tgt, Reason: reason})
}

func (w *walk) extra(r *kgo.Record) {
	tgt := r.Offset
	if _, copied := w.sourceOf(tgt); !copied && (w.onTarget(tgt) || w.source != nil && !stampedFrom(r, w.source)) {
		w.p.OnTarget++
		return
	}
	w.p.Extra++
	if len(w.p.Mismatches) >= w.max {
		return
	}
	reason := reasonStranger
	if src, ok := w.sourceOf(tgt); ok {
		reason = fmt.Sprintf(reasonGone, src)
	}
	w.note(Mismatch{Kind: Extra, SourceOffset: -1, TargetOffset: tgt, Reason: reason})
}

func (w *walk) note(m Mismatch) {
	if len(w.p.Mismatches) < w.max {
		w.p.Mismatches = append(w.p.Mismatches, m)
	}
}
