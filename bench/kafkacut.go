package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The cutover phase: producers keep writing into the source while two
// groups, one caught up and one lagging, switch to the target.
const (
	cutRate   = 1000            // records/s the producers write during the switch
	cutValue  = 100             // bytes per record: partition and sequence, padded
	cutAfter  = 2 * time.Second // producing goes on this long after the target consumers started
	cutWithin = 3 * time.Minute // bound on each wait of the phase
	// cutGiveUp bounds the wait for a group's target offsets; then the
	// switch goes ahead with what the mirror has committed, and the target
	// consumer starts partitions without an offset at their beginning.
	cutGiveUp    = time.Minute
	groupCaught  = "caught up"
	groupLagging = "lagging"
)

// cutFigures are one group's cutover counts, per partition of the topic.
type cutFigures struct {
	twice, never []int
	// wait is the time from the source commit until the target group's
	// offsets were present on every partition and then stable for settle.
	wait time.Duration
	// unsynced counts partitions the mirror had not committed on the
	// target within cutGiveUp.
	unsynced int
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

// cutRecord is the next record of partition p: its identity (partition,
// sequence) in the value.
func cutRecord(topic string, p int, seq uint64) *kgo.Record {
	v := make([]byte, cutValue)
	binary.BigEndian.PutUint32(v, uint32(p))
	binary.BigEndian.PutUint64(v[4:], seq)
	return &kgo.Record{Topic: topic, Partition: int32(p), Value: v}
}

// cutSeq reads a record's sequence; ok is false for a record the phase
// did not write.
func cutSeq(r *kgo.Record) (uint64, bool) {
	if len(r.Value) != cutValue || binary.BigEndian.Uint32(r.Value) != uint32(r.Partition) {
		return 0, false
	}
	return binary.BigEndian.Uint64(r.Value[4:]), true
}

// cutover switches a caught-up group and a group lagging by -lag records
// from the source to the target while producers write, and counts per
// partition the records the group's consumers see twice (on the source
// before the switch and on the target after it, or twice on the target)
// and those they never see.
func (m *benchMirror) cutover(ctx context.Context) (map[string]*cutFigures, error) {
	P, topic := m.cutPartitions, m.cutTopic
	seq := make([]uint64, P)
	next := func(i int) *kgo.Record {
		p := i % P
		r := cutRecord(topic, p, seq[p])
		seq[p]++
		return r
	}
	// Enough records for the lagging group to lag by -lag.
	var pre []*kgo.Record
	for i := range 2*m.o.lag + P {
		pre = append(pre, next(i))
	}
	if err := produceTo(ctx, m.src, pre); err != nil {
		return nil, err
	}
	prod, err := kgo.NewClient(append(m.src.Opts(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))...)
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	pctx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	var (
		pmu  sync.Mutex
		perr error
		pwg  sync.WaitGroup
	)
	pwg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; {
			select {
			case <-pctx.Done():
				err := prod.Flush(ctx)
				pmu.Lock()
				perr = errors.Join(perr, err)
				pmu.Unlock()
				return
			case <-tick.C:
			}
			for range cutRate / 100 {
				prod.Produce(ctx, next(i), func(_ *kgo.Record, err error) {
					if err != nil {
						pmu.Lock()
						perr = errors.Join(perr, err)
						pmu.Unlock()
					}
				})
				i++
			}
		}
	})

	// The switch: each group's consumer on the source has read up to its
	// offset, commits it and stops.
	ends, err := endOffsets(ctx, m.sadm, topic)
	if err != nil {
		return nil, err
	}
	srcCommit := map[string]map[int32]int64{groupCaught: ends, groupLagging: {}}
	for p, end := range ends {
		srcCommit[groupLagging][p] = max(0, end-int64(m.o.lag/P))
	}
	names := map[string]string{groupCaught: m.cutGroup(groupCaught), groupLagging: m.cutGroup(groupLagging)}
	before := map[string]map[int32]int64{}
	for g, name := range names {
		if before[g], err = committed(ctx, m.tadm, name, topic); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	for g, offs := range srcCommit {
		if err := commit(ctx, m.sadm, names[g], topic, offs); err != nil {
			return nil, fmt.Errorf("commit %s on the source: %w", names[g], err)
		}
	}
	// Wait until the mirror has committed each group on the target, as an
	// operator of MM2 must: present on every partition, then unchanged for
	// a few sync intervals (MM2's translated value cannot be known ahead).
	present := map[int32]int64{}
	for p := range P {
		present[int32(p)] = -1
	}
	// Both groups are watched at once, so that neither's wait includes the
	// other's.
	type settledGroup struct {
		wait time.Duration
		ok   bool
		err  error
	}
	waits := map[string]*settledGroup{}
	var swg sync.WaitGroup
	for g, name := range names {
		w := &settledGroup{}
		waits[g] = w
		swg.Go(func() { w.wait, _, w.ok, w.err = m.settled(ctx, name, topic, before[g], present, t0, cutGiveUp) })
	}
	swg.Wait()
	out := map[string]*cutFigures{}
	resume := map[string]map[int32]int64{}
	for g, name := range names {
		w := waits[g]
		if !w.ok && (ctx.Err() != nil || m.proc.exited()) {
			return nil, fmt.Errorf("group %s on the target: %w", name, w.err)
		}
		out[g] = &cutFigures{wait: w.wait}
		if resume[g], err = committed(ctx, m.tadm, name, topic); err != nil {
			return nil, err
		}
		if !w.ok {
			out[g].wait = time.Since(t0)
			out[g].unsynced = P - len(resume[g])
			m.o.logf("    %s group %s: target offsets did not settle on every partition within %s: %v", m.name, name, cutGiveUp, resume[g])
			continue
		}
		m.o.logf("    %s group %s: target offsets %v settled %s after the commit", m.name, name, resume[g], w.wait.Round(time.Millisecond))
	}
	// A consumer of each group on the target reads from where the mirror
	// committed, while the producers still write.
	seen := map[string]*collector{}
	cctx, stopConsuming := context.WithCancel(ctx)
	defer stopConsuming()
	var cwg sync.WaitGroup
	for g, name := range names {
		// read_committed, as a migrated application in exactly-once mode
		// reads; transaction markers are kept so that the reader's
		// position reaches the end offsets.
		c, err := kgo.NewClient(append(m.tgt.Opts(), kgo.ConsumerGroup(name), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		col := &collector{next: resume[g], seqs: map[int32][]uint64{}}
		seen[g] = col
		cwg.Go(func() { col.consume(cctx, c) })
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cutAfter):
	}
	stopProducing()
	pwg.Wait()
	pmu.Lock()
	defer pmu.Unlock()
	if perr != nil {
		return nil, fmt.Errorf("produce: %w", perr)
	}
	if err := m.waitCopied(ctx, topic, cutWithin); err != nil {
		return nil, err
	}
	tends, err := endOffsets(ctx, m.tadm, topic)
	if err != nil {
		return nil, err
	}
	for g, col := range seen {
		if err := m.poll(ctx, "the "+g+" group's consumer to read the target to its end", cutWithin, func() (bool, error) {
			return col.reached(tends), nil
		}); err != nil {
			return nil, err
		}
	}
	stopConsuming()
	cwg.Wait()

	sends, err := endOffsets(ctx, m.sadm, topic)
	if err != nil {
		return nil, err
	}
	produced, err := readSeqs(ctx, m.src, topic, sends)
	if err != nil {
		return nil, err
	}
	for g, f := range out {
		f.twice, f.never = make([]int, P), make([]int, P)
		for p := range P {
			count := map[uint64]int{}
			for off, s := range produced[int32(p)] {
				if int64(off) < srcCommit[g][int32(p)] {
					count[s]++
				}
			}
			for _, s := range seen[g].seqs[int32(p)] {
				count[s]++
			}
			for _, s := range produced[int32(p)] {
				if count[s] == 0 {
					f.never[p]++
				}
			}
			for _, n := range count {
				f.twice[p] += max(0, n-1)
			}
		}
		m.o.logf("    %s, %s group: %d records seen twice %v, %d never seen %v", m.name, g, sum(f.twice), f.twice, sum(f.never), f.never)
	}
	return out, nil
}

// collector keeps the sequences a target consumer saw, per partition, and
// the offset after the last one.
type collector struct {
	mu   sync.Mutex
	next map[int32]int64
	seqs map[int32][]uint64
}

func (c *collector) consume(ctx context.Context, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if s, ok := cutSeq(r); ok {
				c.seqs[r.Partition] = append(c.seqs[r.Partition], s)
			}
			c.next[r.Partition] = max(c.next[r.Partition], r.Offset+1)
		})
		c.mu.Unlock()
	}
}

// reached reports whether the consumer read every partition up to ends.
func (c *collector) reached(ends map[int32]int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, end := range ends {
		if c.next[p] < end {
			return false
		}
	}
	return true
}

// readSeqs reads a topic of the cutover up to ends: per partition, the
// sequence at each offset.
func readSeqs(ctx context.Context, cl *kgo.Client, topic string, ends map[int32]int64) (map[int32][]uint64, error) {
	starts := map[int32]kgo.Offset{}
	out := map[int32][]uint64{}
	left := 0
	for p, end := range ends {
		starts[p] = kgo.NewOffset().AtStart()
		out[p] = make([]uint64, 0, end)
		if end > 0 {
			left++
		}
	}
	c, err := kgo.NewClient(append(cl.Opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}))...)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, cutWithin)
	defer cancel()
	for left > 0 {
		fs := c.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		var bad error
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return
			}
			s, ok := cutSeq(r)
			if !ok || r.Offset != int64(len(out[r.Partition])) {
				bad = fmt.Errorf("%s[%d] offset %d: not the cutover's record or a gap", topic, r.Partition, r.Offset)
				return
			}
			out[r.Partition] = append(out[r.Partition], s)
			if r.Offset+1 == ends[r.Partition] {
				left--
			}
		})
		if bad != nil {
			return nil, bad
		}
	}
	return out, nil
}
