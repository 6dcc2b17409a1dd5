package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The layout of a record batch (magic 2): the offsets of its header fields.
const (
	offBaseOffset  = 0
	offLength      = 8
	offLeaderEpoch = 12
	offMagic       = 16
	offCRC         = 17
	offAttributes  = 21
	offLastDelta   = 23
	offBaseTime    = 27
	offMaxTime     = 35
	offProducerID  = 43
	offEpoch       = 51
	offSequence    = 53
	offCount       = 57
	// HeaderSize is the size of a batch's header; its records follow.
	HeaderSize = 61
)

// Attribute bits of a record batch.
const (
	attrCodec         = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
	// attrDeleteHorizon says the base timestamp is a delete horizon, set by
	// the log cleaner (KIP-534), not the first record's timestamp.
	attrDeleteHorizon = 0x40
)

// Codec is a batch's compression codec, as its attributes number it.
type Codec int8

// The codecs, numbered as in a batch's attributes.
const (
	None Codec = iota
	Gzip
	Snappy
	Lz4
	Zstd
)

var codecNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}

func (c Codec) String() string {
	if c >= 0 && int(c) < len(codecNames) {
		return codecNames[c]
	}
	return fmt.Sprintf("codec %d", int8(c))
}

// ParseCodec reads a compression.type name.
func ParseCodec(name string) (Codec, bool) {
	for i, n := range codecNames {
		if n == name {
			return Codec(i), true
		}
	}
	return 0, false
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// Batch is one whole record batch of magic 2, as its bytes on the wire:
// the header, then the records section, compressed or not. It aliases the
// buffer it was read from.
type Batch []byte

// BaseOffset is the offset of the batch's first record as the log holds it.
func (b Batch) BaseOffset() int64 { return int64(binary.BigEndian.Uint64(b[offBaseOffset:])) }

// LastOffset is the offset of the batch's last record, as the log holds it.
func (b Batch) LastOffset() int64 { return b.BaseOffset() + int64(b.lastDelta()) }

// NextOffset is the offset after the batch.
func (b Batch) NextOffset() int64 { return b.LastOffset() + 1 }

func (b Batch) lastDelta() int32 { return int32(binary.BigEndian.Uint32(b[offLastDelta:])) }

func (b Batch) attributes() int16 { return int16(binary.BigEndian.Uint16(b[offAttributes:])) }

// Records is the number of records the batch holds.
func (b Batch) Records() int32 { return int32(binary.BigEndian.Uint32(b[offCount:])) }

// Codec is the codec of the batch's records section.
func (b Batch) Codec() Codec { return Codec(b.attributes() & attrCodec) }

// Control says the batch holds a transaction marker.
func (b Batch) Control() bool { return b.attributes()&attrControl != 0 }

// Transactional says the batch was written in a transaction.
func (b Batch) Transactional() bool { return b.attributes()&attrTransactional != 0 }

// baseTime is the time the records' time deltas count from, in
// milliseconds.
func (b Batch) baseTime() int64 { return int64(binary.BigEndian.Uint64(b[offBaseTime:])) }

// MaxTimestamp is the time of the batch's newest record, in milliseconds.
func (b Batch) MaxTimestamp() int64 { return int64(binary.BigEndian.Uint64(b[offMaxTime:])) }

// ProducerID is the id of the producer that wrote the batch, -1 for none.
func (b Batch) ProducerID() int64 { return int64(binary.BigEndian.Uint64(b[offProducerID:])) }

// Section is the batch's records section: compressed as Codec says.
func (b Batch) Section() []byte { return b[HeaderSize:] }

// Contiguous says the batch holds one record for every offset from its
// first to its last: the log cleaner has removed none.
func (b Batch) Contiguous() bool { return int64(b.Records()) == int64(b.lastDelta())+1 }

// Forwardable says why the batch cannot be written on as it is by a
// producer of its own, or "" when it can: its records need no change, and
// the target assigns them the same offsets one after the other.
func (b Batch) Forwardable() string {
	a := b.attributes()
	switch {
	case a&attrControl != 0:
		return "control batch"
	case a&attrLogAppendTime != 0:
		// The records' times are in the header only: written on as
		// CreateTime, each record would get its producer's time back.
		return "log append time"
	case a&attrDeleteHorizon != 0:
		return "cleaned with a delete horizon"
	case !b.Contiguous():
		return "offsets removed by compaction"
	case b.Records() == 0:
		return "empty"
	}
	return ""
}

// ErrMagic is returned for a message set older than record batches.
var ErrMagic = errors.New("not a record batch of magic 2")

// Split reads the record batches of a fetched partition's records. A
// partial batch at the end, which a fetch may return when it stops at its
// size limit, is left out: the next fetch returns it whole. It fails on a
// batch whose length is malformed or whose CRC does not match, and with
// ErrMagic on an older message format.
func Split(records []byte) ([]Batch, error) {
	var out []Batch
	for len(records) >= HeaderSize {
		if records[offMagic] != 2 {
			// Message sets of magic 0 and 1 keep it at the same place.
			return out, ErrMagic
		}
		length := int64(int32(binary.BigEndian.Uint32(records[offLength:])))
		if length < HeaderSize-offLeaderEpoch {
			return out, fmt.Errorf("record batch at offset %d: length %d too short", int64(binary.BigEndian.Uint64(records)), length)
		}
		size := offLeaderEpoch + length
		if int64(len(records)) < size {
			break
		}
		b := Batch(records[:size])
		records = records[size:]
		if crc := crc32.Checksum(b[offAttributes:], crc32c); crc != binary.BigEndian.Uint32(b[offCRC:]) {
			return out, fmt.Errorf("record batch at offset %d: crc %08x, computed %08x", b.BaseOffset(), binary.BigEndian.Uint32(b[offCRC:]), crc)
		}
		out = append(out, b)
	}
	return out, nil
}

// Stamp is what a batch says of the producer that writes it.
type Stamp struct {
	ID       int64
	Epoch    int16
	Sequence int32
}

// AppendFor appends to dst the batch as the producer stamped p writes it: at base
// offset 0, with p's id, epoch and base sequence, no partition leader
// epoch, not transactional; everything else, the records section first,
// unchanged. The CRC is computed anew.
func (b Batch) AppendFor(dst []byte, p Stamp) []byte {
	start := len(dst)
	dst = append(dst, b...)
	w := dst[start:]
	binary.BigEndian.PutUint64(w[offBaseOffset:], 0)
	binary.BigEndian.PutUint32(w[offLeaderEpoch:], 0xffffffff)
	binary.BigEndian.PutUint16(w[offAttributes:], uint16(b.attributes()&^attrTransactional))
	binary.BigEndian.PutUint64(w[offProducerID:], uint64(p.ID))
	binary.BigEndian.PutUint16(w[offEpoch:], uint16(p.Epoch))
	binary.BigEndian.PutUint32(w[offSequence:], uint32(p.Sequence))
	binary.BigEndian.PutUint32(w[offCRC:], crc32.Checksum(w[offAttributes:], crc32c))
	return dst
}
