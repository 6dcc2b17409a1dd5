// Package kstruct reads and writes Kafka's Struct encoding, which MM2's
// internal topics use: INT16, INT32 and INT64 big-endian, STRING as an INT16
// length and UTF-8 bytes, fixed-size byte arrays as they are.
package kstruct

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Writer appends fields to a byte slice. The first error sticks: once Err
// is set, later writes do nothing, so a caller checks Err once, after the
// last field.
type Writer struct {
	B   []byte
	Err error
}

func (w *Writer) Int16(v int16) {
	if w.Err == nil {
		w.B = binary.BigEndian.AppendUint16(w.B, uint16(v))
	}
}

func (w *Writer) Int32(v int32) {
	if w.Err == nil {
		w.B = binary.BigEndian.AppendUint32(w.B, uint32(v))
	}
}

func (w *Writer) Int64(v int64) {
	if w.Err == nil {
		w.B = binary.BigEndian.AppendUint64(w.B, uint64(v))
	}
}

func (w *Writer) Bytes(b []byte) {
	if w.Err == nil {
		w.B = append(w.B, b...)
	}
}

// ErrLong is the error of a string longer than a STRING holds.
var ErrLong = errors.New("string too long")

// String writes an INT16 length and the bytes. A string longer than
// math.MaxInt16 bytes sets Err: cutting it would write another string.
func (w *Writer) String(s string) {
	if w.Err != nil {
		return
	}
	if len(s) > math.MaxInt16 {
		w.Err = fmt.Errorf("%w: %d bytes, at most %d", ErrLong, len(s), math.MaxInt16)
		return
	}
	w.Int16(int16(len(s)))
	w.B = append(w.B, s...)
}

// ErrShort is returned when a record ends before its fields do.
var ErrShort = errors.New("record too short")

// Reader reads fields in order; the first error sticks.
type Reader struct {
	B   []byte
	Err error
}

func (r *Reader) take(n int) []byte {
	if r.Err != nil {
		return nil
	}
	if n < 0 || len(r.B) < n {
		r.Err = ErrShort
		return nil
	}
	b := r.B[:n]
	r.B = r.B[n:]
	return b
}

func (r *Reader) Int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *Reader) Int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *Reader) Int64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// String reads an INT16-length string; a negative length is an error.
func (r *Reader) String() string {
	n := r.Int16()
	if r.Err == nil && n < 0 {
		r.Err = fmt.Errorf("negative string length %d", n)
		return ""
	}
	return string(r.take(int(n)))
}

// Fixed reads n bytes into a copy.
func (r *Reader) Fixed(n int) []byte {
	return append([]byte(nil), r.take(n)...)
}

// Done returns the first error, or an error when bytes are left over.
func (r *Reader) Done() error {
	if r.Err == nil && len(r.B) > 0 {
		return fmt.Errorf("%d unexpected trailing bytes", len(r.B))
	}
	return r.Err
}
