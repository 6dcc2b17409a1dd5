package mm2

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/kmirror/kmirror/internal/kstruct"
)

// Sync is one of MM2's offset syncs: the source record at Upstream was
// copied to the target offset Downstream. MM2 writes one to its offset-syncs
// topic for the first record a task copies, then every offset.lag.max
// records or so, and whenever the copies stop being one for one.
//
//	key:   topic STRING, partition INT32
//	value: upstream INT64, downstream INT64
type Sync struct {
	Upstream, Downstream int64
}

// EncodeSync returns the record key and value MM2 writes for a sync. Its
// only string is a Kafka topic name, at most 249 bytes, which a STRING
// always holds: it cannot fail.
func EncodeSync(p Partition, s Sync) (key, value []byte) {
	k := kstruct.Writer{B: make([]byte, 0, 6+len(p.Topic))}
	k.String(p.Topic)
	k.Int32(p.Partition)
	v := kstruct.Writer{B: make([]byte, 0, 16)}
	v.Int64(s.Upstream)
	v.Int64(s.Downstream)
	return k.B, v.B
}

// DecodeSync decodes one record of an offset-syncs topic. ok is false for a
// record that is not MM2's (kmirror's segments share the topic; their key
// starts with the invalid string length -1).
func DecodeSync(key, value []byte) (p Partition, s Sync, ok bool, err error) {
	k := kstruct.Reader{B: key}
	p.Topic = k.String()
	p.Partition = k.Int32()
	if k.Done() != nil {
		return p, s, false, nil
	}
	if p.Topic == "" || p.Partition < 0 {
		return p, s, false, fmt.Errorf("offset sync key names no partition: %q[%d]", p.Topic, p.Partition)
	}
	v := kstruct.Reader{B: value}
	s.Upstream, s.Downstream = v.Int64(), v.Int64()
	if err := v.Done(); err != nil {
		return p, s, false, fmt.Errorf("offset sync of %s[%d]: %w", p.Topic, p.Partition, err)
	}
	if s.Upstream < 0 || s.Downstream < 0 {
		return p, s, false, fmt.Errorf("offset sync of %s[%d]: negative offset %d → %d", p.Topic, p.Partition, s.Upstream, s.Downstream)
	}
	return p, s, true, nil
}

// History is the offset syncs of one partition that still hold, in the
// order MM2 wrote them. The last one is the anchor of a takeover: its
// downstream record is the copy of its upstream one, and MM2 copied every
// later record in order after it.
type History []Sync

// Add appends the next sync MM2 wrote. A sync whose upstream offset is
// below the last one's means MM2 went back (a task restarted from an older
// committed position and copied records again): the syncs before it no
// longer describe what comes after, and MM2 drops them too. The history
// stays sorted by upstream offset.
func (h History) Add(s Sync) History {
	n := len(h)
	switch {
	case n > 0 && s.Upstream < h[n-1].Upstream:
		h = h[:0]
	case n > 0 && s.Upstream == h[n-1].Upstream:
		h[n-1] = s // the same record copied again: the latest copy counts
		return h
	}
	return append(h, s)
}

// Through is the history up to the sync at source offset upstream, the
// syncs past it left out.
func (h History) Through(upstream int64) History {
	i, found := slices.BinarySearchFunc(h, upstream, func(s Sync, u int64) int { return cmp.Compare(s.Upstream, u) })
	if found {
		i++
	}
	return h[:i]
}

// Last is the latest sync; ok is false for an empty history.
func (h History) Last() (s Sync, ok bool) {
	if len(h) == 0 {
		return s, false
	}
	return h[len(h)-1], true
}

// Translate translates a committed source offset g as MM2's checkpoint
// connector does: from the latest sync at or below g, to its downstream
// offset when g is that record, else to the record after it — MM2 cannot
// know how many of the records between were copied, so the group may read
// some again, never skip one. ok is false when no sync is at or below g.
// MM2 keeps a sparse subset of the syncs; this rule over all that remain is
// as precise or more.
func (h History) Translate(g int64) (int64, bool) {
	i, found := slices.BinarySearchFunc(h, g, func(s Sync, g int64) int {
		switch {
		case s.Upstream < g:
			return -1
		case s.Upstream > g:
			return 1
		}
		return 0
	})
	if found {
		return h[i].Downstream, true
	}
	if i == 0 {
		return 0, false
	}
	return h[i-1].Downstream + 1, true
}
