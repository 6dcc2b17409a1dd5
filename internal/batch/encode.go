package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Encoder makes record batches of records, compressed with one codec: the
// record path, for what cannot be forwarded as it is. It is not safe for
// concurrent use.
type Encoder struct {
	codec Codec
	comp  kgo.Compressor
	// max bounds the bytes of a batch's records before compression
	// (batch.size); a record larger than max goes in a batch alone.
	max  int
	buf  bytes.Buffer
	body []byte
}

// NewEncoder makes an encoder of batches compressed with codec, each
// holding at most maxBytes of records unless one record is larger.
func NewEncoder(codec Codec, maxBytes int) (*Encoder, error) {
	e := &Encoder{codec: codec, max: maxBytes}
	if codec != None {
		comp, err := kgo.DefaultCompressor(kgoCodec(codec))
		if err != nil {
			return nil, fmt.Errorf("compression %s: %w", codec, err)
		}
		e.comp = comp
	}
	return e, nil
}

func kgoCodec(c Codec) kgo.CompressionCodec {
	switch c {
	case Gzip:
		return kgo.GzipCompression()
	case Snappy:
		return kgo.SnappyCompression()
	case Lz4:
		return kgo.Lz4Compression()
	case Zstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// Encode appends to dst the batches of recs, in order, and returns dst and
// the number of records in each batch. The records keep their keys,
// values, headers and timestamps (as create times); their offsets are not
// read. The batches are at base offset 0, of no producer, for AppendFor.
func (e *Encoder) Encode(dst []byte, recs []*kgo.Record) ([]byte, []int) {
	var counts []int
	for len(recs) > 0 {
		n := e.fill(recs)
		dst = e.batch(dst, recs[:n])
		counts = append(counts, n)
		recs = recs[n:]
	}
	return dst, counts
}

// fill encodes into e.body the first records of recs that fit in a batch,
// at least one, and returns how many.
func (e *Encoder) fill(recs []*kgo.Record) int {
	e.body = e.body[:0]
	first := recs[0].Timestamp.UnixMilli()
	n := 0
	for _, r := range recs {
		before := len(e.body)
		e.body = appendRecord(e.body, r, int32(n), r.Timestamp.UnixMilli()-first)
		if n > 0 && len(e.body) > e.max {
			e.body = e.body[:before]
			break
		}
		n++
	}
	return n
}

// Next encodes the first batch of recs (at least one record) into a
// buffer of its own, sized to it, and returns it with the number of
// records it holds: the batches of Encode, one at a time.
func (e *Encoder) Next(recs []*kgo.Record) (Batch, int) {
	n := e.fill(recs)
	return Batch(e.batch(nil, recs[:n])), n
}

// batch appends to dst the batch of recs, whose records fill encoded.
func (e *Encoder) batch(dst []byte, recs []*kgo.Record) []byte {
	first, maxTime := recs[0].Timestamp.UnixMilli(), int64(0)
	for _, r := range recs {
		maxTime = max(maxTime, r.Timestamp.UnixMilli())
	}
	section, codec := e.body, None
	if e.comp != nil {
		e.buf.Reset()
		var c kgo.CompressionCodecType
		section, c = e.comp.Compress(&e.buf, e.body)
		codec = Codec(c)
	}
	dst = slices.Grow(dst, HeaderSize+len(section))
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = append(dst, section...)
	header(dst[start:], codec, len(recs), first, maxTime)
	return dst
}

// header fills the header of batch h, whose records section follows it:
// count records of codec, numbered from offset delta 0, their times from
// first to newest; at base offset 0, of no producer, for AppendFor.
func header(h []byte, codec Codec, count int, first, newest int64) {
	binary.BigEndian.PutUint32(h[offLength:], uint32(len(h)-offLeaderEpoch))
	binary.BigEndian.PutUint32(h[offLeaderEpoch:], 0xffffffff)
	h[offMagic] = 2
	binary.BigEndian.PutUint16(h[offAttributes:], uint16(codec))
	binary.BigEndian.PutUint32(h[offLastDelta:], uint32(count-1))
	binary.BigEndian.PutUint64(h[offBaseTime:], uint64(first))
	binary.BigEndian.PutUint64(h[offMaxTime:], uint64(newest))
	binary.BigEndian.PutUint64(h[offProducerID:], 0xffffffffffffffff)
	binary.BigEndian.PutUint16(h[offEpoch:], 0xffff)
	binary.BigEndian.PutUint32(h[offSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(h[offCount:], uint32(count))
	binary.BigEndian.PutUint32(h[offCRC:], crc32.Checksum(h[offAttributes:], crc32c))
}

// appendRecord appends a record in the batch format: its length, then
// attributes, timestamp and offset deltas, key, value and headers, as
// zigzag varints and byte strings (a null one has length -1).
func appendRecord(dst []byte, r *kgo.Record, offsetDelta int32, timeDelta int64) []byte {
	size := 1 + varlongLen(timeDelta) + varlongLen(int64(offsetDelta)) +
		bytesLen(r.Key) + bytesLen(r.Value) + varlongLen(int64(len(r.Headers)))
	for _, h := range r.Headers {
		size += varlongLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	dst = binary.AppendVarint(dst, int64(size))
	dst = append(dst, 0) // attributes: none are used
	dst = binary.AppendVarint(dst, timeDelta)
	dst = binary.AppendVarint(dst, int64(offsetDelta))
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendBytes(dst, h.Value)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

func bytesLen(b []byte) int {
	if b == nil {
		return varlongLen(-1)
	}
	return varlongLen(int64(len(b))) + len(b)
}

// varlongLen is the size of v as a zigzag varint.
func varlongLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
