package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reader reads offset ranges of one cluster's partitions, one range at a
// time, with one client: its connections serve every partition a worker
// compares, and it buffers at most what franz-go fetched for the one
// partition being read.
type reader struct {
	cl            *kgo.Client
	alias         string
	readCommitted bool
	// idle is how long a poll may return nothing before the reader asks
	// the leader whether anything is left of the range.
	idle time.Duration
}

func newReader(alias string, readCommitted bool, idle time.Duration, opts []kgo.Opt) (*reader, error) {
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(append(opts,
		// Transaction markers are kept so that the end of a range that
		// ends with one is seen.
		kgo.KeepControlRecords(),
		// A range whose start the log no longer holds is an error, not a
		// silent jump.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("client of cluster %q: %w", alias, err)
	}
	return &reader{cl: cl, alias: alias, readCommitted: readCommitted, idle: idle}, nil
}

func (r *reader) close() { r.cl.Close() }

// open starts reading topic[partition] (whose topic id is id) from offset
// from up to end (exclusive). The range must be read to its end, or
// finished, before the next one is opened.
func (r *reader) open(topic string, id [16]byte, partition int32, from, end int64) *rangeReader {
	rr := &rangeReader{r: r, topic: topic, id: id, partition: partition, end: end, last: from - 1}
	if from >= end {
		rr.done = true
		return rr
	}
	rr.added = true
	r.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}})
	return rr
}

// rangeReader streams the data records of one range.
type rangeReader struct {
	r         *reader
	topic     string
	id        [16]byte
	partition int32
	end       int64

	buf []*kgo.Record
	// last is the offset of the last record fetched, control records
	// included.
	last int64
	// added says the partition is being fetched; done that the range
	// has no more records.
	added, done bool
}

// next returns the next data record of the range, or nil at its end.
func (rr *rangeReader) next(ctx context.Context) (*kgo.Record, error) {
	for {
		for len(rr.buf) > 0 {
			rec := rr.buf[0]
			rr.buf[0] = nil
			rr.buf = rr.buf[1:]
			if rec.Offset >= rr.end {
				rr.finish()
				return nil, nil
			}
			if !rec.Attrs.IsControl() {
				return rec, nil
			}
		}
		if rr.done || rr.last >= rr.end-1 {
			rr.finish()
			return nil, nil
		}
		if err := rr.fetch(ctx); err != nil {
			rr.finish()
			return nil, fmt.Errorf("read %s[%d] on cluster %q: %w", rr.topic, rr.partition, rr.r.alias, err)
		}
	}
}

// fetch polls the client for the range's next records. The range usually
// ends with a record the mirror read or wrote; when that record is gone
// (compacted, or the log truncated), no record at or past the end may ever
// come, so after a quiet poll the leader is asked.
func (rr *rangeReader) fetch(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, rr.r.idle)
	fs := rr.r.cl.PollFetches(pctx)
	cancel()
	if err := ctx.Err(); err != nil {
		return err
	}
	if pctx.Err() != nil && fs.NumRecords() == 0 {
		done, err := rr.probe(ctx)
		rr.done = done
		return err
	}
	var ferr error
	fs.EachError(func(topic string, partition int32, err error) {
		// Errors of a partition read before are stale; those of no
		// partition (the client closed, the poll timed out) are not.
		if topic == rr.topic && partition == rr.partition || topic == "" && !errors.Is(err, context.DeadlineExceeded) {
			ferr = err
		}
	})
	if ferr != nil {
		return ferr
	}
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Topic == rr.topic && p.Partition == rr.partition && p.Err == nil && len(p.Records) > 0 {
			rr.buf = append(rr.buf, p.Records...)
			rr.last = p.Records[len(p.Records)-1].Offset
		}
	})
	return nil
}

// probe reads the partition from the last record seen with fetch requests
// of its own, which say where the log's next batch is even when it holds
// nothing to return; it reports whether the range has no more records.
func (rr *rangeReader) probe(ctx context.Context) (bool, error) {
	leader, _, err := rr.r.cl.PartitionLeader(rr.topic, rr.partition)
	if err != nil || leader < 0 {
		return false, nil // no metadata yet: the consumer is still starting
	}
	iso := kgo.ReadUncommitted()
	if rr.r.readCommitted {
		iso = kgo.ReadCommitted()
	}
	at := rr.last + 1
	for at < rr.end {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 1<<20, -1
		if rr.r.readCommitted {
			req.IsolationLevel = 1
		}
		t := kmsg.NewFetchRequestTopic()
		t.Topic, t.TopicID = rr.topic, rr.id
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition, p.FetchOffset, p.CurrentLeaderEpoch, p.LogStartOffset, p.PartitionMaxBytes = rr.partition, at, -1, -1, 1<<20
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		resp, err := rr.r.cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			return false, err
		}
		fr := resp.(*kmsg.FetchResponse)
		if err := kerr.ErrorForCode(fr.ErrorCode); err != nil {
			return false, err
		}
		if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			return false, errors.New("the leader answered a fetch for another partition")
		}
		rp := &fr.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
			if kerr.IsRetriable(err) {
				return false, nil // leadership moves: the consumer copes
			}
			return false, err
		}
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
			KeepControlRecords: true, Offset: at, IsolationLevel: iso, Topic: rr.topic, Partition: rr.partition,
		}, rp, kgo.DefaultDecompressor(), nil)
		if fp.Err != nil {
			return false, fp.Err
		}
		if len(fp.Records) > 0 {
			// A record is there: the consumer returns it in time, unless
			// it is past the range.
			return fp.Records[0].Offset >= rr.end, nil
		}
		if next <= at {
			return true, nil // nothing more up to the end of the log
		}
		at = next
	}
	return true, nil
}

// finish stops fetching the range's partition.
func (rr *rangeReader) finish() {
	rr.done, rr.buf = true, nil
	if rr.added {
		rr.added = false
		rr.r.cl.RemoveConsumePartitions(map[string][]int32{rr.topic: {rr.partition}})
	}
}
