// Package heartbeat emits MM2-format heartbeats to the target's heartbeats
// topic for each flow, every emit.heartbeats.interval.seconds, so that tools
// built on MM2 see the flow, and measures how long a heartbeat takes to be
// acknowledged by the target.
package heartbeat

import (
	"fmt"
	"time"

	"github.com/kmirror/kmirror/internal/kstruct"
)

// Record is one MM2 heartbeat.
type Record struct {
	Source, Target string
	Timestamp      time.Time
}

// MM2's Heartbeat: key Struct(sourceClusterAlias STRING,
// targetClusterAlias STRING); value = header Struct(version INT16 0) +
// Struct(timestamp INT64, milliseconds).
const version int16 = 0

// Encode returns the record's key and value in MM2's format. An alias
// longer than a STRING holds (32767 bytes) is an error.
func (r Record) Encode() (key, value []byte, err error) {
	k := kstruct.Writer{B: make([]byte, 0, 4+len(r.Source)+len(r.Target))}
	k.String(r.Source)
	k.String(r.Target)
	if k.Err != nil {
		return nil, nil, fmt.Errorf("heartbeat key: %w", k.Err)
	}
	v := kstruct.Writer{B: make([]byte, 0, 10)}
	v.Int16(version)
	v.Int64(r.Timestamp.UnixMilli())
	return k.B, v.B, nil
}

// Decode reads a heartbeat written by MM2 or kmirror.
func Decode(key, value []byte) (Record, error) {
	kr := kstruct.Reader{B: key}
	r := Record{Source: kr.String(), Target: kr.String()}
	if err := kr.Done(); err != nil {
		return Record{}, fmt.Errorf("heartbeat key: %w", err)
	}
	vr := kstruct.Reader{B: value}
	if v := vr.Int16(); vr.Err == nil && v != version {
		return Record{}, fmt.Errorf("heartbeat value: unknown version %d", v)
	}
	r.Timestamp = time.UnixMilli(vr.Int64())
	if err := vr.Done(); err != nil {
		return Record{}, fmt.Errorf("heartbeat value: %w", err)
	}
	return r, nil
}
