package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Gather makes one uncompressed batch of the records of bs, in order:
// uncompressed batches that Forwardable accepts, whose offsets follow one
// another. Each record keeps its bytes but for its offset and time deltas,
// which count from the first batch's first record; nothing is decoded into
// records. The batch is at base offset 0, of no producer, for AppendFor, as
// the Encoder's are.
func Gather(bs []Batch) (Batch, error) {
	if len(bs) == 0 {
		return nil, errors.New("gather: no batch")
	}
	size, count := HeaderSize, 0
	first, newest := bs[0].baseTime(), int64(0)
	for i, b := range bs {
		switch {
		case b.Codec() != None:
			return nil, fmt.Errorf("gather: batch at %d is %s", b.BaseOffset(), b.Codec())
		case b.Forwardable() != "":
			return nil, fmt.Errorf("gather: batch at %d: %s", b.BaseOffset(), b.Forwardable())
		case i > 0 && b.BaseOffset() != bs[i-1].NextOffset():
			return nil, fmt.Errorf("gather: batch at %d does not follow the one that ends at %d", b.BaseOffset(), bs[i-1].NextOffset())
		}
		// A delta may take more bytes than it did: a few per record.
		size += len(b.Section()) + 8*int(b.Records())
		count += int(b.Records())
		newest = max(newest, b.MaxTimestamp())
	}
	dst := make([]byte, HeaderSize, size)
	delta := int64(0)
	for _, b := range bs {
		before := delta
		var err error
		if dst, err = renumber(dst, b.Section(), b.baseTime()-first, &delta); err != nil {
			return nil, fmt.Errorf("gather: batch at %d: %w", b.BaseOffset(), err)
		}
		if delta-before != int64(b.Records()) {
			return nil, fmt.Errorf("gather: batch at %d holds %d records, says %d", b.BaseOffset(), delta-before, b.Records())
		}
	}
	header(dst, None, count, first, newest)
	return Batch(dst), nil
}

// renumber appends the records of an uncompressed records section to dst,
// each with its time delta moved by shift and its offset delta the next
// of *next.
func renumber(dst, section []byte, shift int64, next *int64) ([]byte, error) {
	for len(section) > 0 {
		length, n := binary.Varint(section)
		if n <= 0 || length < 3 || int64(len(section)-n) < length {
			return nil, errors.New("a record's length is malformed")
		}
		body := section[n : n+int(length)]
		section = section[n+int(length):]
		timeDelta, t := binary.Varint(body[1:])
		if t <= 0 {
			return nil, errors.New("a record's time delta is malformed")
		}
		_, o := binary.Varint(body[1+t:])
		if o <= 0 {
			return nil, errors.New("a record's offset delta is malformed")
		}
		rest := body[1+t+o:]
		timeDelta += shift
		size := 1 + varlongLen(timeDelta) + varlongLen(*next) + len(rest)
		dst = binary.AppendVarint(dst, int64(size))
		dst = append(dst, body[0]) // attributes
		dst = binary.AppendVarint(dst, timeDelta)
		dst = binary.AppendVarint(dst, *next)
		dst = append(dst, rest...)
		*next++
	}
	return dst, nil
}
