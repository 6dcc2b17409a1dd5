package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// copyCheck tells when a mirror has copied every record of a source topic
// that no longer grows. End offsets alone cannot tell: in exactly-once mode
// transaction markers take target offsets, so the target's end offsets
// reach the source's before the last records are committed. So once they
// do, the check reads the last committed record of each target partition
// and compares it with the source's last one: records keep their order, so
// the last one there means every one before it is.
type copyCheck struct {
	topic    string
	tgt      []kgo.Opt
	tadm     *kadm.Client
	srcEnds  map[int32]int64
	srcLasts map[int32]*kgo.Record
	// What the last call of done saw, for progress: partitions whose
	// target end offset had reached the source's, and of those, whose last
	// record had come over; copied is -1 when it did not read them.
	reached, copied int
}

// newCopyCheck reads what the source topic holds now.
func newCopyCheck(ctx context.Context, topic string, src, tgt []kgo.Opt, sadm, tadm *kadm.Client) (*copyCheck, error) {
	ends, err := endOffsets(ctx, sadm, topic)
	if err != nil {
		return nil, err
	}
	lasts, err := lastRecords(ctx, src, topic, ends)
	if err != nil {
		return nil, err
	}
	return &copyCheck{topic: topic, tgt: tgt, tadm: tadm, srcEnds: ends, srcLasts: lasts, copied: -1}, nil
}

// done tells whether the target holds, committed, the source's last record
// of every partition.
func (c *copyCheck) done(ctx context.Context) (bool, error) {
	ends, err := endOffsets(ctx, c.tadm, c.topic)
	if err != nil {
		return false, err
	}
	c.reached, c.copied = 0, -1
	for p, end := range c.srcEnds {
		if ends[p] >= end {
			c.reached++
		}
	}
	if c.reached < len(c.srcEnds) {
		return false, nil
	}
	lasts, err := lastRecords(ctx, c.tgt, c.topic, ends)
	if err != nil {
		return false, err
	}
	c.copied = 0
	for p, want := range c.srcLasts {
		got := lasts[p]
		if got != nil && bytes.Equal(got.Value, want.Value) && got.Timestamp.Equal(want.Timestamp) {
			c.copied++
		}
	}
	return c.copied == len(c.srcLasts), nil
}

// progress says how far the copy had got at the last call of done.
func (c *copyCheck) progress() string {
	s := fmt.Sprintf("%d of %d partitions of %s at the source's end offsets on the target", c.reached, len(c.srcEnds), c.topic)
	if c.copied >= 0 {
		s += fmt.Sprintf(", %d of %d with the source's last record", c.copied, len(c.srcLasts))
	}
	return s
}

// lastRecords returns the last record of each partition of topic that a
// read_committed reader sees, up to the end offsets ends, reading back at
// most a few hundred offsets (records and transaction markers).
//
// A partition is read to its end only once a record at offset end-1 came
// back. The reader keeps control records, so every offset below end either
// comes back or lies in an aborted transaction whose marker, after it,
// does: the last offset always comes back. An empty answer is no end: a
// fetch response is cut at its byte limit and, with many partitions, those
// after the cut come back empty although they hold records; and a
// transaction still open leaves its records unreadable until it ends. Either
// way the next fetch asks again, from the same position.
//
// It fails when ctx ends, or when readWithin passes, first naming the
// partitions it has not read to their end.
func lastRecords(ctx context.Context, opts []kgo.Opt, topic string, ends map[int32]int64) (map[int32]*kgo.Record, error) {
	const back = 512
	starts := map[int32]kgo.Offset{}
	left := map[int32]int64{}
	for p, end := range ends {
		if end > 0 {
			starts[p] = kgo.NewOffset().At(max(0, end-back))
			left[p] = end
		}
	}
	out := map[int32]*kgo.Record{}
	if len(left) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, readWithin)
	defer cancel()
	for len(left) > 0 {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return nil, fmt.Errorf("read the last records of %s: %d of %d partitions not read to their end (%s): %w",
				topic, len(left), len(ends), someLeft(left, 5), err)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) { ferr = fmt.Errorf("read %s[%d]: %w", topic, p, err) })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				out[r.Partition] = r
			}
			if r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return out, nil
}

// readWithin bounds lastRecords: a few hundred offsets of each partition
// take well under a second to read; a transaction on the target ends
// within kmirror's transaction.boundary.interval.ms.
const readWithin = 2 * time.Minute

// someLeft names up to n partitions of left and their end offsets, for
// errors.
func someLeft(left map[int32]int64, n int) string {
	ps := slices.Sorted(maps.Keys(left))
	var b strings.Builder
	for i, p := range ps[:min(n, len(ps))] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "partition %d up to offset %d", p, left[p])
	}
	if len(ps) > n {
		b.WriteString(", …")
	}
	return b.String()
}
