package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/record"
)

// maxResume bounds the records compared per partition when resuming after
// a crash; past it the copy repeats the rest.
const maxResume = 100_000

// resumeFrom is a partition whose target holds records past its stored
// progress (or, without progress, any records): a worker may have copied
// them and died before it persisted them.
type resumeFrom struct {
	p *partition
	// from is the target offset the comparison starts at: the partition's
	// mirrored end when it was loaded.
	from int64
	// The ends of the target and source partitions when it was loaded.
	tgtEnd, srcEnd int64
}

// resume moves the mirrored ends of partitions past the records their
// previous owner copied after its last persisted progress, so that a crash
// repeats nothing: the target records from the stored end on are compared
// in order with the source records from the stored end on, and each pair
// that matches (key, value, headers, timestamp) counts as copied — into the
// offset map too. A target record that matches nothing ends the comparison;
// the copy resumes after the last match. The previous owner may be a
// kmirror worker or MirrorMaker 2. It returns how many records of each
// partition matched.
func (sr *starter) resume(ctx context.Context, todo []resumeFrom) (map[progress.Partition]int, error) {
	if len(todo) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	type want struct {
		r        resumeFrom
		n        int64 // target records to compare
		tgt, src []*kgo.Record
	}
	wants := map[progress.Partition]*want{}
	tgtAt := map[string]map[int32]kgo.Offset{}
	srcAt := map[string]map[int32]kgo.Offset{}
	nsrc := 0
	for _, r := range todo {
		end := r.p.end()
		wants[r.p.key] = &want{r: r, n: min(r.tgtEnd-r.from, maxResume)}
		if tgtAt[r.p.target] == nil {
			tgtAt[r.p.target] = map[int32]kgo.Offset{}
		}
		tgtAt[r.p.target][r.p.key.Partition] = kgo.NewOffset().At(r.from)
		if end.Source >= r.srcEnd {
			continue // nothing on the source to compare with
		}
		if srcAt[r.p.key.Topic] == nil {
			srcAt[r.p.key.Topic] = map[int32]kgo.Offset{}
		}
		srcAt[r.p.key.Topic][r.p.key.Partition] = kgo.NewOffset().At(end.Source)
		nsrc++
	}
	byTarget := map[progress.Partition]progress.Partition{} // target topic/partition → source
	for _, r := range todo {
		byTarget[progress.Partition{Topic: r.p.target, Partition: r.p.key.Partition}] = r.p.key
	}

	tgtCl, err := kgo.NewClient(append(cluster.Options(sr.tgt, sr.log), kgo.ConsumePartitions(tgtAt))...)
	if err != nil {
		return nil, err
	}
	defer tgtCl.Close()
	if err := pollUntil(ctx, tgtCl, func(r *kgo.Record) bool {
		w := wants[byTarget[progress.Partition{Topic: r.Topic, Partition: r.Partition}]]
		if int64(len(w.tgt)) < w.n && !r.Attrs.IsControl() {
			w.tgt = append(w.tgt, r)
		}
		return int64(len(w.tgt)) >= w.n || r.Offset+1 >= w.r.tgtEnd
	}, len(wants)); err != nil {
		return nil, fmt.Errorf("read the target past the stored progress: %w", err)
	}

	if nsrc > 0 {
		srcCl, err := kgo.NewClient(append(append(cluster.Options(sr.src, sr.log), cluster.ConsumerOptions(sr.cfg.Consumer)...),
			kgo.ConsumePartitions(srcAt), kgo.ConsumeResetOffset(kgo.NoResetOffset()))...)
		if err != nil {
			return nil, err
		}
		defer srcCl.Close()
		if err := pollUntil(ctx, srcCl, func(r *kgo.Record) bool {
			w := wants[progress.Partition{Topic: r.Topic, Partition: r.Partition}]
			if len(w.src) < len(w.tgt) && !r.Attrs.IsControl() {
				w.src = append(w.src, r)
			}
			return len(w.src) >= len(w.tgt) || r.Offset+1 >= w.r.srcEnd
		}, nsrc); err != nil {
			return nil, fmt.Errorf("read the source past the stored progress: %w", err)
		}
	}

	matched := make(map[progress.Partition]int, len(todo))
	for _, r := range todo {
		w := wants[r.p.key]
		matched[r.p.key] = r.p.adopt(w.src, w.tgt)
		// What follows the last match on the target is no copy of the
		// source's next record: the next copy lands after it, and the
		// map says so before that copy is acknowledged.
		r.p.skipTarget(r.tgtEnd)
	}
	return matched, nil
}

// pollUntil polls cl, giving each record to take, until take has said done
// for parts partitions.
func pollUntil(ctx context.Context, cl *kgo.Client, take func(*kgo.Record) (done bool), parts int) error {
	done := map[progress.Partition]bool{}
	for len(done) < parts {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := progress.Partition{Topic: r.Topic, Partition: r.Partition}
			if !done[k] && take(r) {
				done[k] = true
				cl.PauseFetchPartitions(map[string][]int32{r.Topic: {r.Partition}})
			}
		})
	}
	return nil
}

// skipTarget moves the partition's next target offset up to end.
func (p *partition) skipTarget(end int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.m.End().Target
	p.segments = append(p.segments, p.m.SkipTarget(end)...)
	if p.m.End().Target != before {
		p.dirty = true
	}
}

// adopt takes the target records tgt as the copies of the source records
// src, pairwise, for as long as they match, and returns how many matched.
func (p *partition) adopt(src, tgt []*kgo.Record) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(tgt) && n < len(src) && record.Same(src[n], tgt[n]) {
		segs, err := p.m.Observe(src[n].Offset, tgt[n].Offset)
		if err != nil {
			break
		}
		p.segments = append(p.segments, segs...)
		p.dirty = true
		n++
	}
	return n
}
