package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// syncFigures are the group sync delay samples of one mirror.
type syncFigures struct {
	// delays are, per sample, the time from the source commit until the
	// target group held the offsets it then kept.
	delays []time.Duration
	// inexact counts samples that settled on other offsets than the
	// source's (identity policy on fresh topics: the same numbers);
	// never, those that showed no change within syncNever.
	samples, inexact, never int
}

// settle is how long a target group's offsets must stay unchanged to
// count as the mirror's answer when they differ from the exact ones:
// three sync intervals.
const settle = 3 * syncInterval

// syncBatch is the records written to each partition before a sample's
// commit: more than MM2's offset.lag.max (100), so that MM2 writes a new
// offset sync between two commits, as it does under steady traffic.
const syncBatch = 200

// syncNever bounds a group sync sample.
const syncNever = 30 * time.Second

// endOffsets returns a topic's end offsets.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var first error
	ends.Each(func(l kadm.ListedOffset) {
		if l.Err != nil && first == nil {
			first = fmt.Errorf("end offset of %s[%d]: %w", topic, l.Partition, l.Err)
		}
		out[l.Partition] = l.Offset
	})
	return out, first
}

// waitCopied waits until the target holds, committed, every record the
// source topic holds now.
func (m *benchMirror) waitCopied(ctx context.Context, topic string, within time.Duration) error {
	check, err := newCopyCheck(ctx, topic, m.src.Opts(), m.tgt.Opts(), m.sadm, m.tadm)
	if err != nil {
		return err
	}
	return m.wait("copy of "+topic, within, check.progress).until(ctx, check.done)
}

// produceSync writes n records to each partition of the sync topic.
func (m *benchMirror) produceSync(ctx context.Context, n int) error {
	var recs []*kgo.Record
	for p := range syncPartitions {
		for range n {
			recs = append(recs, &kgo.Record{Topic: m.syncTopic, Partition: int32(p), Value: []byte("sync")})
		}
	}
	return produceTo(ctx, m.src, recs)
}

// produceTo writes records to their partitions and waits for them.
func produceTo(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	p, err := kgo.NewClient(append(cl.Opts(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.ProduceSync(ctx, recs...).FirstErr()
}

// committed returns a group's committed offsets of topic on a cluster.
func committed(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	if resp.Error() != nil {
		return nil, resp.Error()
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

// commit commits offsets of topic for a group that has no members, as a
// consumer that stopped leaves it.
func commit(ctx context.Context, adm *kadm.Client, group, topic string, offsets map[int32]int64) error {
	var os kadm.Offsets
	for p, at := range offsets {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	return err
}

// settled waits, from t0, until the target group's offsets of topic equal
// want (exact), or differ from before, cover every partition of want and
// stay unchanged for settle (inexact); delay is the time of the last
// change. ok is false when nothing settled within.
func (m *benchMirror) settled(ctx context.Context, group, topic string, before, want map[int32]int64, t0 time.Time, within time.Duration) (delay time.Duration, exact, ok bool, err error) {
	prev := before
	var changed time.Time
	err = m.poll(ctx, "offsets of group "+group+" on the target", within, func() (bool, error) {
		got, err := committed(ctx, m.tadm, group, topic)
		if err != nil {
			return false, err
		}
		now := time.Now()
		if maps.Equal(got, want) {
			delay, exact, ok = now.Sub(t0), true, true
			return true, nil
		}
		if !maps.Equal(got, prev) {
			prev, changed = got, now
		}
		if !changed.IsZero() && len(got) == len(want) && now.Sub(changed) >= settle {
			delay, ok = changed.Sub(t0), true
			return true, nil
		}
		return false, nil
	})
	if ok {
		return delay, exact, true, nil
	}
	return 0, false, false, fmt.Errorf("%w; last seen %v, want %v", err, prev, want)
}

// syncDelay measures how long a source group's commit takes to reach the
// same group on the target: after a warm-up that lets the mirror discover
// the group, -sync-samples times: new records on every partition, copied;
// a commit of the source's ends at a random phase of the sync interval;
// the time until the target group holds the translated offsets.
func (m *benchMirror) syncDelay(ctx context.Context) (syncFigures, error) {
	group := m.syncGroup()
	var f syncFigures
	sample := func(within time.Duration) (time.Duration, bool, bool, error) {
		if err := m.produceSync(ctx, syncBatch); err != nil {
			return 0, false, false, err
		}
		if err := m.waitCopied(ctx, m.syncTopic, time.Minute); err != nil {
			return 0, false, false, err
		}
		select {
		case <-ctx.Done():
			return 0, false, false, ctx.Err()
		case <-time.After(rand.N(syncInterval)):
		}
		ends, err := endOffsets(ctx, m.sadm, m.syncTopic)
		if err != nil {
			return 0, false, false, err
		}
		before, err := committed(ctx, m.tadm, group, m.syncTopic)
		if err != nil {
			return 0, false, false, err
		}
		if err := commit(ctx, m.sadm, group, m.syncTopic, ends); err != nil {
			return 0, false, false, err
		}
		return m.settled(ctx, group, m.syncTopic, before, ends, time.Now(), within)
	}
	m.o.logf("  %s: group sync warm-up", m.name)
	if _, _, ok, err := sample(3 * time.Minute); !ok {
		return f, fmt.Errorf("the first commit of %s never reached the target: %v", group, err)
	}
	for range m.o.syncSamples {
		d, exact, ok, err := sample(syncNever)
		if err != nil && (ctx.Err() != nil || m.proc.exited()) {
			return f, err
		}
		f.samples++
		switch {
		case !ok:
			f.never++
		case !exact:
			f.inexact++
			f.delays = append(f.delays, d)
		default:
			f.delays = append(f.delays, d)
		}
	}
	m.o.logf("    %d samples: %d inexact, %d never; delays %v", f.samples, f.inexact, f.never, f.delays)
	return f, nil
}
