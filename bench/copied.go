package main

import (
	"bytes"
	"context"
	"fmt"

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
	return &copyCheck{topic: topic, tgt: tgt, tadm: tadm, srcEnds: ends, srcLasts: lasts}, nil
}

// done tells whether the target holds, committed, the source's last record
// of every partition.
func (c *copyCheck) done(ctx context.Context) (bool, error) {
	ends, err := endOffsets(ctx, c.tadm, c.topic)
	if err != nil {
		return false, err
	}
	for p, end := range c.srcEnds {
		if ends[p] < end {
			return false, nil
		}
	}
	lasts, err := lastRecords(ctx, c.tgt, c.topic, ends)
	if err != nil {
		return false, err
	}
	for p, want := range c.srcLasts {
		got := lasts[p]
		if got == nil || !bytes.Equal(got.Value, want.Value) || !got.Timestamp.Equal(want.Timestamp) {
			return false, nil
		}
	}
	return true, nil
}

// lastRecords returns the last record of each partition of topic that a
// read_committed reader sees, up to the end offsets ends, reading back at
// most a few hundred offsets (records and transaction markers).
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
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) { ferr = fmt.Errorf("read %s[%d]: %w", topic, p, err) })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			end, ok := left[fp.Partition]
			for _, r := range fp.Records {
				if !ok || r.Offset >= end {
					break
				}
				if !r.Attrs.IsControl() {
					out[r.Partition] = r
				}
				if r.Offset+1 >= end {
					delete(left, r.Partition)
				}
			}
			if ok && len(fp.Records) == 0 && fp.LastStableOffset >= end {
				delete(left, fp.Partition) // aborted records at the end
			}
		})
	}
	return out, nil
}
