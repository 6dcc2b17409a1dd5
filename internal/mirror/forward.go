package mirror

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/batch"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/record"
)

// The batch path. Outside exactly-once mode a partition's fetches reach
// the target as record batches through the run's batch producer: a source
// batch whose records all go on unchanged is forwarded, its compressed
// records section as it is; the rest — records a pair skips or a header
// stamps, a batch the copy starts inside of, a codec to change, what
// batch.Forwardable refuses — is decoded and re-encoded into batches of
// batch.size at most. One producer writes both, so a partition's batches
// keep their order whatever their path.

// sent is a batch handed to the batch producer and not yet acknowledged.
type sent struct {
	// first and count are the source offsets of a forwarded batch's
	// records, one after the other; offsets are those of a re-encoded
	// batch's, which may skip some.
	first, count int64
	offsets      []int64
	// advance, when set, moves the mirrored end past source offsets that
	// followed the batch and hold nothing to copy, once it is acknowledged.
	advance int64
	// size is the batch's records section as written; newest its newest
	// record's time, for the latency.
	size      int
	newest    time.Time
	forwarded bool
}

// records is the number of records the batch holds.
func (s *sent) records() int64 {
	if s.offsets != nil {
		return int64(len(s.offsets))
	}
	return s.count
}

// batchPath is a task's way to the target outside exactly-once mode: what
// decides which batches are forwarded, the encoder of the others, and the
// run's producer both go to. A task's goroutine alone uses it.
type batchPath struct {
	// forward is batch.forwarding; codec is producer.compression.type,
	// the codec of re-encoded batches.
	forward string
	codec   batch.Codec
	enc     *batch.Encoder
	out     *batch.Producer
	decomp  kgo.Decompressor
	// pending are records decoded for re-encoding and their source
	// offsets, gathered across a fetch's batches so that small batches
	// (a compacted log's) make full ones.
	pending []*kgo.Record
	offsets []int64
	// small are forwardable small uncompressed batches, one after the
	// other, to gather into one (see gathers); smallBytes their records.
	small      []batch.Batch
	smallBytes int
	// pendingAdvance, when set, is where the mirrored end moves once the
	// pending records are acknowledged: past what followed them and holds
	// nothing to copy.
	pendingAdvance int64
	// batchSize is producer.batch.size: what a gathered batch holds at
	// most, and a quarter of it what a batch must hold less of to be
	// gathered (GatherBelow).
	batchSize int32
}

func newBatchPath(f *config.Flow, out *batch.Producer, decomp kgo.Decompressor) (*batchPath, error) {
	codec, _ := batch.ParseCodec(f.Producer.Compression)
	enc, err := batch.NewEncoder(codec, int(f.Producer.BatchSize))
	if err != nil {
		return nil, err
	}
	return &batchPath{forward: f.BatchForwarding, codec: codec, enc: enc, out: out, decomp: decomp,
		batchSize: f.Producer.BatchSize}, nil
}

// copy hands one fetch of the partition to the target. copies, when set,
// is the map of the flow the other way, deciding every fetched offset.
func (bp *batchPath) copy(ctx context.Context, p *partition, f *fetched, copies *offsetmap.Map) {
	if f.err != nil || len(f.Aborted) > 0 {
		// An older message format, or aborted transactions to leave out:
		// franz-go decodes the whole fetch.
		bp.decode(ctx, p, f.Fetched, f.Offset, copies)
		bp.flush(ctx, p)
		return
	}
	for _, b := range f.batches {
		switch {
		case b.NextOffset() <= f.Offset:
			continue // before the copy
		case b.Control():
			bp.flushSmall(ctx, p)
			bp.skipTo(p, b.NextOffset())
			continue
		}
		switch {
		case bp.refuses(p, b, f.Offset, copies) != "":
			bp.decode(ctx, p, batch.Fetched{Topic: f.Topic, Partition: f.Partition, Records: b}, f.Offset, copies)
		case bp.gathers(b):
			bp.gather(ctx, p, b)
		default:
			bp.flush(ctx, p)
			bp.produce(ctx, p, b, &sent{first: b.BaseOffset(), count: int64(b.Records()), forwarded: true})
		}
	}
	bp.flush(ctx, p)
}

// refuses says why batch b cannot be forwarded, or "" when it can.
func (bp *batchPath) refuses(p *partition, b batch.Batch, from int64, copies *offsetmap.Map) string {
	switch {
	case bp.forward == config.ForwardOff:
		return "batch.forwarding off"
	case p.origin != nil:
		return "provenance header"
	case bp.forward == config.ForwardSameCodec && b.Codec() != bp.codec:
		return "codec " + b.Codec().String()
	case b.BaseOffset() < from:
		return "the copy starts inside the batch"
	}
	if copies != nil {
		if c, ok := copies.FirstTarget(b.BaseOffset()); ok && c <= b.LastOffset() {
			return "the pair's copies"
		}
	}
	return b.Forwardable()
}

// GatherBelow is the size of a records section under which an uncompressed
// batch is gathered with its neighbours rather than forwarded, for
// producer.batch.size batchSize: a quarter of it.
func GatherBelow(batchSize int32) int { return int(batchSize / 4) }

// gathers says whether batch b, forwardable, is gathered with its
// neighbours into one uncompressed batch (batch.Gather) instead: a small
// uncompressed batch, since a produce request takes one batch per
// partition and small ones would make many requests, while gathering
// records that were never compressed costs only a copy. Small compressed
// batches are forwarded: recompressing costs more than the requests it
// saves.
func (bp *batchPath) gathers(b batch.Batch) bool {
	return b.Codec() == batch.None && len(b.Section()) < GatherBelow(bp.batchSize)
}

// gather adds b to the small batches to gather, after what is pending:
// the records to re-encode, and small batches it cannot join (not right
// after them, or too many bytes with them).
func (bp *batchPath) gather(ctx context.Context, p *partition, b batch.Batch) {
	bp.flushRecords(ctx, p)
	if n := len(bp.small); n > 0 && (bp.small[n-1].NextOffset() != b.BaseOffset() || bp.smallBytes+len(b.Section()) > int(bp.batchSize)) {
		bp.flushSmall(ctx, p)
	}
	bp.small = append(bp.small, b)
	bp.smallBytes += len(b.Section())
}

// flushSmall produces the small batches gathered into one, or the one
// alone as it is.
func (bp *batchPath) flushSmall(ctx context.Context, p *partition) {
	bs := bp.small
	if len(bs) == 0 {
		return
	}
	defer func() {
		clear(bp.small)
		bp.small, bp.smallBytes = bp.small[:0], 0
	}()
	if len(bs) == 1 {
		bp.produce(ctx, p, bs[0], &sent{first: bs[0].BaseOffset(), count: int64(bs[0].Records()), forwarded: true})
		return
	}
	g, err := batch.Gather(bs)
	if err != nil {
		p.failWith(bs[0].BaseOffset(), fmt.Errorf("copy %s[%d]: %w", p.key.Topic, p.key.Partition, err))
		return
	}
	bp.produce(ctx, p, g, &sent{first: bs[0].BaseOffset(), count: int64(g.Records())})
}

// decode adds the records of fp at and after offset from to the pending
// records, leaving out what the copy skips: control records, the pair's
// copies, records stamped with the target's id. Small batches waiting to
// be gathered go first.
func (bp *batchPath) decode(ctx context.Context, p *partition, fp batch.Fetched, from int64, copies *offsetmap.Map) {
	bp.flushSmall(ctx, p)
	// Aborted transactions are listed only when reading committed data.
	recs, last, err := decode(fp, from, len(fp.Aborted) > 0, bp.decomp)
	if err != nil {
		p.failWith(from, fmt.Errorf("copy %s[%d]: %w", p.key.Topic, p.key.Partition, err))
		return
	}
	for _, r := range recs {
		if skip := p.skips(r, copies); skip {
			bp.skipTo(p, r.Offset+1)
			continue
		}
		bp.pending = append(bp.pending, r)
		bp.offsets = append(bp.offsets, r.Offset)
	}
	// last is the offset after what was read: past aborted records and
	// markers that follow the last record returned.
	if last > from {
		bp.skipTo(p, last)
	}
}

// skipTo moves the mirrored end up to offset next once what is pending
// and in flight is acknowledged.
func (bp *batchPath) skipTo(p *partition, next int64) {
	if len(bp.pending) > 0 {
		// Settled when the pending records' last batch is: flush first.
		bp.pendingAdvance = max(bp.pendingAdvance, next)
		return
	}
	p.skipBatches(next)
}

// flush produces what is pending: small batches gathered, records
// encoded.
func (bp *batchPath) flush(ctx context.Context, p *partition) {
	bp.flushSmall(ctx, p)
	bp.flushRecords(ctx, p)
}

// flushRecords encodes the pending records into batches and produces
// them.
func (bp *batchPath) flushRecords(ctx context.Context, p *partition) {
	if len(bp.pending) == 0 {
		if bp.pendingAdvance > 0 {
			p.skipBatches(bp.pendingAdvance)
			bp.pendingAdvance = 0
		}
		return
	}
	defer func() {
		clear(bp.pending)
		bp.pending, bp.offsets, bp.pendingAdvance = bp.pending[:0], nil, 0
	}()
	// A buffer for each batch: the producer holds each until it is
	// answered.
	recs, offsets := bp.pending, bp.offsets
	for len(recs) > 0 {
		b, n := bp.enc.Next(recs)
		s := &sent{offsets: offsets[:n:n]}
		recs, offsets = recs[n:], offsets[n:]
		if len(recs) == 0 {
			s.advance = bp.pendingAdvance
		}
		bp.produce(ctx, p, b, s)
	}
}

// produce registers s and hands its batch b to the producer, which stamps
// it in place and holds it, and with it the fetch's buffer, until it is
// answered: b's bytes are the producer's from then on.
func (bp *batchPath) produce(ctx context.Context, p *partition, b batch.Batch, s *sent) {
	s.size, s.newest = len(b.Section()), time.UnixMilli(b.MaxTimestamp())
	if !p.sendBatch(s) {
		return
	}
	if err := bp.out.Produce(ctx, p.target, p.key.Partition, b, p.batchDone); err != nil {
		// Stopping: the batch never reached the producer, so no answer
		// will come for it.
		p.unsend(s, err)
	}
}

// skips says whether the copy leaves record r out: a control record, a
// copy the pair wrote, a record stamped with the target's id. A record it
// keeps gets the provenance header it needs. Both paths decide with it.
func (p *partition) skips(r *kgo.Record, copies *offsetmap.Map) bool {
	if r.Attrs.IsControl() {
		return true
	}
	var from []byte
	stamped := false
	if p.origin != nil {
		from, stamped = record.Origin(r)
	}
	if stamped && bytes.Equal(from, p.origin.target) || copies != nil && copies.IsCopy(r.Offset) {
		p.metrics.skippedCopy()
		return true
	}
	if p.origin != nil && !stamped {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: record.OriginHeader, Value: p.origin.source})
	}
	return false
}

// countFetch counts a fetch handed to the batch path (see sent).
func (p *partition) countFetch() {
	p.mu.Lock()
	p.sent++
	p.mu.Unlock()
}

// sendBatch registers a batch about to be produced; false when the
// partition failed and takes nothing more.
func (p *partition) sendBatch(s *sent) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed != nil {
		return false
	}
	p.batches = append(p.batches, s)
	return true
}

// skipBatches moves the mirrored end up to next, past offsets that hold
// nothing to copy, once the batches in flight are acknowledged.
func (p *partition) skipBatches(next int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.batches); n > 0 {
		p.batches[n-1].advance = max(p.batches[n-1].advance, next)
		return
	}
	if p.failed == nil && next > p.m.End().Source {
		p.m.Advance(next)
		p.dirty = true
	}
}

// unsend takes back s, the last batch registered, which the producer
// refused, and fails the partition from its first offset on.
func (p *partition) unsend(s *sent, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.batches); n > 0 && p.batches[n-1] == s {
		p.batches[n-1] = nil
		p.batches = p.batches[:n-1]
	}
	p.failAt(s.firstOffset(), fmt.Errorf("copy %s[%d] at offset %d: %w", p.key.Topic, p.key.Partition, s.firstOffset(), err))
}

// failWith fails the partition from source offset at on, once: what is
// in flight below it still counts when acknowledged.
func (p *partition) failWith(at int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAt(at, err)
}

// failAt is failWith with p.mu held.
func (p *partition) failAt(at int64, err error) {
	if p.failed == nil || at < p.failedAt {
		first := p.failed == nil
		p.failed, p.failedAt = err, at
		if first {
			p.fail(err)
		}
	}
}

// batchDone is the batch producer's answer for the partition's oldest
// batch in flight: it answers in order.
func (p *partition) batchDone(base int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.batches) == 0 {
		return // not ours; cannot happen
	}
	s := p.batches[0]
	p.batches[0] = nil
	p.batches = p.batches[1:]
	if p.failed != nil && s.firstOffset() >= p.failedAt {
		return // behind the failure: not copied, whatever the answer
	}
	if err != nil {
		p.failAt(s.firstOffset(), fmt.Errorf("copy %s[%d] at offset %d: %w", p.key.Topic, p.key.Partition, s.firstOffset(), err))
		return
	}
	if err := p.observeBatch(s, base); err != nil {
		p.failAt(s.firstOffset(), fmt.Errorf("copy %s[%d]: %w", p.key.Topic, p.key.Partition, err))
		return
	}
	n := s.records()
	p.metrics.copiedBatch(s.forwarded, n, s.size, time.Since(s.newest))
	if s.advance > 0 {
		p.m.Advance(s.advance)
	}
	p.dirty = true
}

func (s *sent) firstOffset() int64 {
	if s.offsets != nil {
		return s.offsets[0]
	}
	return s.first
}

// observeBatch puts an acknowledged batch, written from target offset base
// on, into the map, with the MM2 syncs it calls for. p.mu is held.
func (p *partition) observeBatch(s *sent, base int64) error {
	first, n := s.first, s.count
	if k := len(s.offsets); k > 0 && s.offsets[k-1]-s.offsets[0] == int64(k-1) {
		first, n = s.offsets[0], int64(k) // re-encoded one for one
	}
	if n > 0 {
		segs, err := p.m.ObserveRange(first, base, n)
		if err != nil {
			return err
		}
		p.syncRange(segs, first, base, n)
		return nil
	}
	for i, src := range s.offsets {
		segs, err := p.m.Observe(src, base+int64(i))
		if err != nil {
			return err
		}
		p.syncRange(segs, src, base+int64(i), 1)
	}
	return nil
}

// syncRange keeps the segments observed for n records copied one for one
// from source offset src to target offset tgt, and the MM2-format syncs
// due among them: the first copy of a segment, and a copy syncEvery or
// more offsets past the last sync, as acked does record by record.
func (p *partition) syncRange(segs []offsetmap.Segment, src, tgt, n int64) {
	p.segments = append(p.segments, segs...)
	if p.syncEvery <= 0 {
		return
	}
	i := int64(0)
	if len(segs) > 0 {
		p.syncs = append(p.syncs, mm2.Sync{Upstream: src, Downstream: tgt})
		p.syncedAt = tgt
		i = 1
	}
	for {
		// The next record due: syncEvery past the one after the last sync.
		i = max(i, p.syncedAt+1+p.syncEvery-tgt)
		if i >= n {
			return
		}
		p.syncs = append(p.syncs, mm2.Sync{Upstream: src + i, Downstream: tgt + i})
		p.syncedAt = tgt + i
		i++
	}
}
