package progress

import (
	"fmt"

	"github.com/kmirror/kmirror/internal/kstruct"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// The offset-syncs topic holds one record per segment, so that old committed
// offsets still translate; the topic is compacted and a segment dropped
// below the source log start is deleted with a tombstone.
//
//	key:   INT16 -1 (kmirror segment, format 1), topic STRING, partition INT32, source INT64
//	value: INT16 1 (version), target INT64, count INT64 (0 while open)
//
// The key starts with -1, an invalid string length for MM2's own
// offset-sync records (key: topic STRING, partition INT32), so that the two
// can never be mistaken for each other in one topic.
const segmentFormat int16 = -1

// SegmentKey identifies one segment record.
type SegmentKey struct {
	Topic     string
	Partition int32
	Source    int64
}

// EncodeSegment returns the record key and value of a segment.
func EncodeSegment(topic string, partition int32, s offsetmap.Segment) (key, value []byte) {
	k := kstruct.Writer{B: make([]byte, 0, 16+len(topic))}
	k.Int16(segmentFormat)
	k.String(topic)
	k.Int32(partition)
	k.Int64(s.Source)
	v := kstruct.Writer{B: make([]byte, 0, 18)}
	v.Int16(1)
	v.Int64(s.Target)
	v.Int64(s.Count)
	return k.B, v.B
}

// DecodeSegmentKey reads a segment key; ok is false for a record that is not
// a kmirror segment (such as MM2's own offset syncs).
func DecodeSegmentKey(key []byte) (SegmentKey, bool, error) {
	r := kstruct.Reader{B: key}
	if r.Int16() != segmentFormat || r.Err != nil {
		return SegmentKey{}, false, nil
	}
	k := SegmentKey{Topic: r.String(), Partition: r.Int32(), Source: r.Int64()}
	if err := r.Done(); err != nil {
		return SegmentKey{}, true, fmt.Errorf("segment key: %w", err)
	}
	if k.Topic == "" || k.Partition < 0 || k.Source < 0 {
		return SegmentKey{}, true, fmt.Errorf("segment key: invalid %+v", k)
	}
	return k, true, nil
}

// DecodeSegmentValue reads the target offset and count of a segment.
func DecodeSegmentValue(value []byte) (target, count int64, err error) {
	r := kstruct.Reader{B: value}
	if v := r.Int16(); r.Err == nil && v != 1 {
		return 0, 0, fmt.Errorf("segment value: unknown version %d", v)
	}
	target, count = r.Int64(), r.Int64()
	if err := r.Done(); err != nil {
		return 0, 0, fmt.Errorf("segment value: %w", err)
	}
	if target < 0 || count < 0 {
		return 0, 0, fmt.Errorf("segment value: negative offset or count %d, %d", target, count)
	}
	return target, count, nil
}
