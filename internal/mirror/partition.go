package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// inflight is a record handed to the producer and not yet acknowledged.
type inflight struct {
	rec *kgo.Record
	src int64
	// advance, when set, moves the mirrored end past control records that
	// followed this record, once it is acknowledged.
	advance int64
}

// partition is the copy state of one source partition. The task that copies
// it and the producer's acknowledgements update it; the flusher reads it.
type partition struct {
	key     progress.Partition
	target  string
	topicID [16]byte

	// ack is acked as a func value, made once: a method value made per
	// record would allocate on the copy path.
	ack func(*kgo.Record, error)
	// fail is told of the partition's first failure, so that the flow
	// stops at once rather than when the task next polls.
	fail func(error)
	// producer writes the copies: the flow's, or in exactly-once mode the
	// producer of the partition's slot.
	producer *kgo.Client
	// slot is the partition's slot in exactly-once mode, nil otherwise.
	slot *slot

	// origin, with provenance.header.enabled, holds the source and target
	// clusters' ids: copies are stamped with the first, source records
	// stamped with the second are not copied back.
	origin *origin

	// mm2 are MirrorMaker 2's offset syncs when kmirror took the
	// partition over from MM2: they translate what lies below m.
	mm2 mm2.History

	mu sync.Mutex
	m  *offsetmap.Map
	// inflight are the records handed to the slot's producer in
	// exactly-once mode; batches are the batches handed to the batch
	// producer otherwise (forward.go).
	inflight []inflight
	batches  []*sent
	// sent counts the fetches handed to the producer, so that a look at
	// the target's end can tell whether a copy may have landed meanwhile.
	sent uint64
	// segments are new or closed segments not yet persisted; deletes are
	// segments below the source log start, to delete.
	segments []offsetmap.Segment
	deletes  []offsetmap.Segment
	// syncs are MM2-format offset syncs not yet persisted: one for the
	// first copy of each segment, and one whenever a copy lands
	// syncEvery or more offsets past the last sync's next target offset,
	// as MM2's source task emits them (offset.lag.max); none when
	// syncEvery is 0. syncedAt is the last sync's target offset, -1
	// before the first.
	syncs     []mm2.Sync
	syncEvery int64
	syncedAt  int64
	// dirty says the progress changed since it was last persisted.
	dirty bool
	// moved is when a reader of the progress (Flow.Copied) first saw the
	// next offset at seen: how long the partition has not moved, without
	// a clock read on the copy path.
	moved time.Time
	seen  int64
	// failed is the first produce error, for the record at source offset
	// failedAt: acknowledgements of records after it do not count.
	failed   error
	failedAt int64
	// stopped says why copying this partition stopped, when it did.
	stopped string
	// committed is, in exactly-once mode, the next source offset to copy
	// as the last committed transaction left it: translations and the
	// copied range do not count what a transaction still open holds.
	committed int64
	// gaps are source ranges lost to retention before they were copied.
	gaps    []Gap
	metrics partitionMetrics
}

// origin is what a flow with provenance headers stamps and skips.
type origin struct {
	source, target []byte
}

// Gap is a range of source offsets [From, To) deleted by the source before
// kmirror copied it.
type Gap struct {
	From, To int64
}

// partitionSpec is what a partition is made with.
type partitionSpec struct {
	key     progress.Partition
	target  string
	topicID [16]byte
	// m is the offset map to copy on from; mm2 MM2's syncs below it.
	m   *offsetmap.Map
	mm2 mm2.History
	// dirty says the progress is not persisted yet.
	dirty bool
	// producer writes the copies, in slot's transactions when slot is
	// set; fail is told of the first failure.
	producer *kgo.Client
	slot     *slot
	fail     func(error)
	origin   *origin
	// syncEvery is offset.lag.max when MM2-format syncs are written, else
	// 0.
	syncEvery int64
	metrics   partitionMetrics
}

// newPartition makes the copy state of a source partition.
func newPartition(s partitionSpec) *partition {
	p := &partition{key: s.key, target: s.target, topicID: s.topicID, m: s.m, mm2: s.mm2, dirty: s.dirty,
		producer: s.producer, slot: s.slot, fail: s.fail, origin: s.origin, syncEvery: s.syncEvery, metrics: s.metrics,
		committed: s.m.End().Source, moved: time.Now(), seen: s.m.End().Source, syncedAt: -1}
	p.ack = p.acked
	return p
}

// produce hands the records of one fetch of this partition to its
// producer; in exactly-once mode all of them go into the slot's open
// transaction. copies, when set, is the map of the flow the other way,
// deciding every fetched offset: the records it wrote are not copied back.
func (p *partition) produce(recs []*kgo.Record, copies *offsetmap.Map) {
	if p.slot != nil {
		p.slot.gate.RLock()
		defer p.slot.gate.RUnlock()
	}
	for _, r := range p.send(recs, copies) {
		p.producer.Produce(context.Background(), r, p.ack)
	}
}

// commitAt records that a transaction committed the partition's progress
// up to source offset end.Source.
func (p *partition) commitAt(end offsetmap.Segment) {
	p.mu.Lock()
	p.committed = max(p.committed, end.Source)
	p.mu.Unlock()
}

// send registers the records of one fetch of this partition, in order,
// before they go to the producer: each is pointed at the target topic and
// goes in flight, and control records, like the records copies says the
// flow the other way wrote, move the mirrored end past them. It returns
// the records to produce, in recs's storage. One lock per fetch, not per
// record: the producer's acknowledgements take the same lock.
func (p *partition) send(recs []*kgo.Record, copies *offsetmap.Map) []*kgo.Record {
	out := recs[:0]
	p.mu.Lock()
	p.sent++
	p.inflight = slices.Grow(p.inflight, len(recs))
	for _, r := range recs {
		if p.skips(r, copies) {
			p.skip(r.Offset)
			continue
		}
		// The fetched record becomes the produced one: same key, value,
		// headers, timestamp and partition. Offset is still the source
		// offset until the producer sets the target one.
		r.Topic = p.target
		p.inflight = append(p.inflight, inflight{rec: r, src: r.Offset})
		out = append(out, r)
	}
	p.mu.Unlock()
	return out
}

// skip records that source offsets up to and including off hold nothing
// to copy (control records). p.mu is held.
func (p *partition) skip(off int64) {
	if n := len(p.inflight); n > 0 {
		p.inflight[n-1].advance = off + 1
		return
	}
	if p.failed == nil {
		p.m.Advance(off + 1)
		p.dirty = true
	}
}

// acked is the producer's promise for every record of this partition.
// franz-go calls promises of one partition in order, but a record refused
// before it was buffered (at shutdown) is answered at once, so the record is
// looked up rather than assumed to be first.
func (p *partition) acked(rec *kgo.Record, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := 0
	for i < len(p.inflight) && p.inflight[i].rec != rec {
		i++
	}
	if i == len(p.inflight) {
		return // not ours; cannot happen
	}
	e := p.inflight[i]
	if i == 0 {
		// The usual case: drop the head without moving the rest, and
		// without keeping the record reachable.
		p.inflight[0] = inflight{}
		p.inflight = p.inflight[1:]
	} else {
		p.inflight = append(p.inflight[:i], p.inflight[i+1:]...)
	}
	if err == nil && i != 0 {
		err = errors.New("acknowledged out of order")
	}
	if err != nil {
		if p.failed == nil || e.src < p.failedAt {
			first := p.failed == nil
			p.failed = fmt.Errorf("copy %s[%d] at offset %d: %w", p.key.Topic, p.key.Partition, e.src, err)
			p.failedAt = e.src
			if first {
				p.fail(p.failed)
			}
		}
		return
	}
	if p.failed != nil && e.src > p.failedAt {
		return
	}
	segs, oerr := p.m.Observe(e.src, rec.Offset)
	if oerr != nil {
		p.failed = fmt.Errorf("copy %s[%d]: %w", p.key.Topic, p.key.Partition, oerr)
		p.failedAt = e.src
		p.fail(p.failed)
		return
	}
	p.segments = append(p.segments, segs...)
	if p.syncEvery > 0 && (len(segs) > 0 || rec.Offset-(p.syncedAt+1) >= p.syncEvery) {
		p.syncs = append(p.syncs, mm2.Sync{Upstream: e.src, Downstream: rec.Offset})
		p.syncedAt = rec.Offset
	}
	// One clock read and three metric updates per record: the latency
	// histogram counts every record. BenchmarkPartitionCopy puts them at
	// about 27 ns a record (25 → 52 ns), some 2 % of the ≈1.3 µs of CPU
	// kmirror spends per copied record.
	p.metrics.copied(recordSize(rec), time.Since(rec.Timestamp))
	if e.advance > 0 {
		p.m.Advance(e.advance)
	}
	p.dirty = true
}

// recordSize is what a record weighs in the bytes-copied metric.
func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// truncate forgets what lies below the source's log start.
func (p *partition) truncate(logStart int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.m.Start()
	if dropped := p.m.Truncate(logStart); len(dropped) > 0 || p.m.Start() != before {
		p.deletes = append(p.deletes, dropped...)
		p.dirty = true
	}
}

// pending takes what the flusher must persist of the partition: segments
// to write and to delete, then its mark (written for source cluster
// clusterID) when the progress moved.
func (p *partition) pending(clusterID string) progress.Pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := progress.Pending{Partition: p.key, Segments: p.segments, Deletes: p.deletes, Syncs: p.syncs}
	p.segments, p.deletes, p.syncs = nil, nil, nil
	if p.dirty {
		p.dirty = false
		s.Mark = &progress.Mark{ClusterID: clusterID, TopicID: p.topicID, Start: p.m.Start(), End: p.m.End()}
	}
	return s
}

// unpersisted puts back what a failed flush could not write.
func (p *partition) unpersisted(s progress.Pending) {
	p.mu.Lock()
	p.segments = append(s.Segments, p.segments...)
	p.deletes = append(s.Deletes, p.deletes...)
	p.syncs = append(s.Syncs, p.syncs...)
	p.dirty = true
	p.mu.Unlock()
}

// end returns the next source offset to copy.
func (p *partition) end() offsetmap.Segment {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.End()
}

// skipTo records a gap up to the source's new log start and moves the
// mirrored end there. Records still in flight are older than the gap.
func (p *partition) skipTo(logStart int64) Gap {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := Gap{From: p.m.End().Source, To: logStart}
	p.gaps = append(p.gaps, g)
	p.m.Advance(logStart)
	p.dirty = true
	return g
}

// discard cuts the partition off from the flow: the acknowledgements of its
// records still in the producer no longer fail the flow.
func (p *partition) discard() {
	p.mu.Lock()
	p.fail = func(error) {}
	p.mu.Unlock()
}

func (p *partition) stop(reason string) {
	p.mu.Lock()
	p.stopped = reason
	p.mu.Unlock()
}

// inFlight is the number of records and batches sent and not yet
// acknowledged.
func (p *partition) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlightLocked()
}

func (p *partition) inFlightLocked() int { return len(p.inflight) + len(p.batches) }
