package progress

import (
	"fmt"
	"time"

	"github.com/kmirror/kmirror/internal/kstruct"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// Partition names a source partition: the key of everything kmirror
// keeps per partition. It is the type MirrorMaker 2's records are decoded
// to (mm2.Partition, whose package cannot import this one), so that a key
// is never converted from one to the other.
type Partition = mm2.Partition

// WorkerHeader is the header of a progress record that names the worker
// (its member id in the workers' group) that wrote it, so that an operator
// can follow a partition from worker to worker.
const WorkerHeader = "kmirror.worker"

// Mark is where one source partition has been copied up to: the value of
// its record in the progress topic.
//
//	key:   INT16 1 (version), topic STRING, partition INT32
//	value: INT16 1 (version), source cluster id STRING, topic id 16 bytes,
//	       start INT64, end source offset INT64, end target offset INT64
//
// Start is the first source offset copied (or still covered by the offset
// map), End the next source offset to copy and the next target offset.
// ClusterID and TopicID name the source it was written for, so that a
// progress is never applied to another cluster or to a topic deleted and
// created again.
type Mark struct {
	ClusterID string
	TopicID   [16]byte
	Start     int64
	End       offsetmap.Segment
	// Written is when the mark was persisted (its record's timestamp),
	// for a mark read from the topic; it is not part of the value. A
	// worker persists a partition's mark only when it moved.
	Written time.Time
}

// EncodeMark returns the record key and value of partition p's mark.
func EncodeMark(p Partition, m Mark) (key, value []byte) {
	kw := kstruct.Writer{B: make([]byte, 0, 8+len(p.Topic))}
	kw.Int16(1)
	kw.String(p.Topic)
	kw.Int32(p.Partition)
	vw := kstruct.Writer{B: make([]byte, 0, 44+len(m.ClusterID))}
	vw.Int16(1)
	vw.String(m.ClusterID)
	vw.Bytes(m.TopicID[:])
	vw.Int64(m.Start)
	vw.Int64(m.End.Source)
	vw.Int64(m.End.Target)
	return kw.B, vw.B
}

// DecodeMark reads a progress record.
func DecodeMark(key, value []byte) (Partition, Mark, error) {
	p, err := DecodeMarkKey(key)
	if err != nil {
		return Partition{}, Mark{}, err
	}
	vr := kstruct.Reader{B: value}
	if v := vr.Int16(); vr.Err == nil && v != 1 {
		return Partition{}, Mark{}, fmt.Errorf("progress value: unknown version %d", v)
	}
	var m Mark
	m.ClusterID = vr.String()
	copy(m.TopicID[:], vr.Fixed(16))
	m.Start, m.End.Source, m.End.Target = vr.Int64(), vr.Int64(), vr.Int64()
	if err := vr.Done(); err != nil {
		return Partition{}, Mark{}, fmt.Errorf("progress value: %w", err)
	}
	if m.Start < 0 || m.End.Source < m.Start || m.End.Target < 0 {
		return Partition{}, Mark{}, fmt.Errorf("progress value: invalid range %d..%d→%d", m.Start, m.End.Source, m.End.Target)
	}
	return p, m, nil
}

// DecodeMarkKey reads the key of a progress record: a tombstone has no
// value to decode.
func DecodeMarkKey(key []byte) (Partition, error) {
	kr := kstruct.Reader{B: key}
	if v := kr.Int16(); kr.Err == nil && v != 1 {
		return Partition{}, fmt.Errorf("progress key: unknown version %d", v)
	}
	p := Partition{Topic: kr.String(), Partition: kr.Int32()}
	if err := kr.Done(); err != nil {
		return Partition{}, fmt.Errorf("progress key: %w", err)
	}
	if p.Topic == "" || p.Partition < 0 {
		return Partition{}, fmt.Errorf("progress key: invalid partition %q[%d]", p.Topic, p.Partition)
	}
	return p, nil
}
