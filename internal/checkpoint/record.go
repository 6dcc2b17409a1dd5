package checkpoint

import (
	"fmt"

	"github.com/kmirror/kmirror/internal/kstruct"
)

// Record is one MM2 checkpoint: group's committed offset on a source
// partition (Upstream) and its translation on the target topic partition
// (Downstream). Topic is the target topic name, as MM2 writes it.
type Record struct {
	Group      string
	Topic      string
	Partition  int32
	Upstream   int64
	Downstream int64
	Metadata   string
}

// MM2's Checkpoint serializes its key as a Struct of consumer-group-id
// STRING, topic STRING, partition INT32, and its value as a header Struct
// (version INT16 = 0) followed by upstreamOffset INT64, offset INT64,
// metadata STRING.
const version int16 = 0

// Encode returns the record's key and value in MM2's format. A group id,
// topic or metadata longer than a STRING holds (32767 bytes) is an error:
// cut, it would name another group or carry other metadata.
func (r Record) Encode() (key, value []byte, err error) {
	k := kstruct.Writer{B: make([]byte, 0, 8+len(r.Group)+len(r.Topic))}
	k.String(r.Group)
	k.String(r.Topic)
	k.Int32(r.Partition)
	if k.Err != nil {
		return nil, nil, fmt.Errorf("checkpoint key: %w", k.Err)
	}
	v := kstruct.Writer{B: make([]byte, 0, 20+len(r.Metadata))}
	v.Int16(version)
	v.Int64(r.Upstream)
	v.Int64(r.Downstream)
	v.String(r.Metadata)
	if v.Err != nil {
		return nil, nil, fmt.Errorf("checkpoint value: %w", v.Err)
	}
	return k.B, v.B, nil
}

// Decode reads a checkpoint written by MM2 or kmirror.
func Decode(key, value []byte) (Record, error) {
	kr := kstruct.Reader{B: key}
	r := Record{Group: kr.String(), Topic: kr.String(), Partition: kr.Int32()}
	if err := kr.Done(); err != nil {
		return Record{}, fmt.Errorf("checkpoint key: %w", err)
	}
	vr := kstruct.Reader{B: value}
	if v := vr.Int16(); vr.Err == nil && v != version {
		return Record{}, fmt.Errorf("checkpoint value: unknown version %d", v)
	}
	r.Upstream, r.Downstream, r.Metadata = vr.Int64(), vr.Int64(), vr.String()
	if err := vr.Done(); err != nil {
		return Record{}, fmt.Errorf("checkpoint value: %w", err)
	}
	return r, nil
}
