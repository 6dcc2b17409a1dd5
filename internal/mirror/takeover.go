package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// TakenOver is a source partition kmirror continues where MirrorMaker 2
// left it, rather than copying it from the start.
type TakenOver struct {
	Topic     string
	Partition int32
	// MM2Next is where MM2 would resume: the offset after the last one it
	// committed in its Connect offsets topic OffsetsTopic, -1 (and "")
	// when it committed none.
	MM2Next      int64
	OffsetsTopic string
	// Anchor is MM2's last offset sync of the partition, from which the
	// target's tail was compared with the source.
	Anchor mm2.Sync
	// Resume is the source offset kmirror copies from: past every record
	// the comparison proved MM2 copied, those it had not committed
	// included.
	Resume int64
}

// mm2State is what MirrorMaker 2 left on the clusters for a flow.
type mm2State struct {
	// next is where MM2 resumes each partition, read from topic.
	next  map[progress.Partition]int64
	topic string
	// syncs are MM2's offset syncs, by partition.
	syncs map[progress.Partition]mm2.History
	// elsewhere are the partitions whose syncs MM2 wrote at the other
	// location than the flow's: a takeover carries them over.
	elsewhere map[progress.Partition]bool
}

// readMM2SyncsElsewhere adds to mm2s the MM2 offset syncs written at the
// other location than the flow's offset-syncs.topic.location — MM2's
// default is the source, kmirror's the target — for the partitions mm2s has
// none of. A topic that does not exist or cannot be read holds none.
func (sr *starter) readMM2SyncsElsewhere(ctx context.Context, mm2s *mm2State) error {
	found, err := sr.scanMM2Syncs(ctx, true, func(progress.Partition) bool { return true })
	if err != nil {
		return err
	}
	for k, h := range found {
		if len(mm2s.syncs[k]) == 0 {
			mm2s.syncs[k] = h
			mm2s.elsewhere[k] = true
		}
	}
	return nil
}

// scanMM2Syncs reads the MM2 offset syncs of the partitions keep keeps, at
// the flow's offset-syncs location or, elsewhere, at the other one. A
// topic that does not exist or cannot be read holds none.
func (sr *starter) scanMM2Syncs(ctx context.Context, elsewhere bool, keep func(progress.Partition) bool) (map[progress.Partition]mm2.History, error) {
	at, topic := sr.cfg.OffsetSyncs()
	if elsewhere {
		at, topic = sr.cfg.OffsetSyncsElsewhere()
	}
	c := sr.tgt
	if at == sr.src.Alias {
		c = sr.src
	}
	found := map[progress.Partition]mm2.History{}
	err := cluster.ScanTopic(ctx, cluster.Options(c, sr.log), topic, func(r *kgo.Record) {
		if p, s, ok, _ := mm2.DecodeSync(r.Key, r.Value); ok {
			if keep(p) {
				found[p] = found[p].Add(s)
			}
		}
	})
	if errors.Is(err, kerr.TopicAuthorizationFailed) {
		sr.log.Info("cannot read a location of MirrorMaker 2's offset syncs, so cannot take over partitions whose syncs MM2 wrote there", "topic", topic, "cluster", c.Alias)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("MirrorMaker 2's offset syncs: %w", err)
	}
	return found, nil
}

// handedBack picks, of the partitions resumed from kmirror's progress with
// target records past it, those MirrorMaker 2 copied on after a hand-back:
// MM2's Connect offsets resume them past kmirror's progress, and an MM2
// offset sync names a record past it. They are taken over as from MM2,
// since comparing every record MM2 copied since is unbounded; their
// histories in mm2s are the syncs of kmirror's range (its own, as dense as
// offset.lag.max) and then MM2's past it, from whichever location holds
// more of them — so that below the new start groups translate as MM2
// translates them.
func (sr *starter) handedBack(ctx context.Context, mm2s *mm2State, beyond []resumeFrom) (map[progress.Partition]bool, error) {
	past := map[progress.Partition]int64{}
	for _, r := range beyond {
		if next, ok := mm2s.next[r.p.key]; ok && next > r.p.end().Source {
			past[r.p.key] = r.p.end().Source
		}
	}
	if len(past) == 0 {
		return nil, nil
	}
	keep := func(k progress.Partition) bool { _, ok := past[k]; return ok }
	here, err := sr.scanMM2Syncs(ctx, false, keep)
	if err != nil {
		return nil, err
	}
	there, err := sr.scanMM2Syncs(ctx, true, keep)
	if err != nil {
		return nil, err
	}
	out := map[progress.Partition]bool{}
	for k, end := range past {
		before := here[k].Through(end - 1)
		after, elsewhere := here[k][len(before):], false
		if h := there[k]; len(h)-len(h.Through(end-1)) > len(after) {
			after, elsewhere = h[len(h.Through(end-1)):], true
		}
		if len(after) == 0 {
			continue
		}
		mm2s.syncs[k] = append(slices.Clone(before), after...)
		mm2s.elsewhere[k] = elsewhere
		out[k] = true
	}
	return out, nil
}

// takenOver tells whether MM2 copied partition k.
func (s mm2State) takenOver(k progress.Partition) bool {
	_, committed := s.next[k]
	return committed || len(s.syncs[k]) > 0
}

// readMM2Positions reads where MM2 resumes each partition it copied from
// the flow's source, from the first of its Connect offsets topics on the
// target that holds any: the one the target's config names
// (offset.storage.topic), then MM2's defaults.
func (sr *starter) readMM2Positions(ctx context.Context) (map[progress.Partition]int64, string, error) {
	topics, _ := mm2.Look(sr.cfg.Source, sr.tgt.ConnectOffsetsTopic, sr.tgt.ConnectGroup)
	for _, topic := range topics {
		var recs []*kgo.Record
		err := cluster.ScanTopic(ctx, cluster.Options(sr.tgt, sr.log), topic, func(r *kgo.Record) { recs = append(recs, r) })
		if errors.Is(err, kerr.TopicAuthorizationFailed) {
			sr.log.Info("cannot read MirrorMaker 2's offsets topic, so cannot take over from an MM2 that wrote there: grant Read and Describe on it to take over",
				"topic", topic, "cluster", sr.cfg.Target)
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("MirrorMaker 2's offsets: %w", err)
		}
		pos, err := mm2.Positions(recs, sr.cfg.Source)
		if err != nil {
			sr.log.Warn("ignoring unreadable records of MirrorMaker 2's offsets topic", "topic", topic, "err", err)
		}
		if len(pos) > 0 {
			return pos, topic, nil
		}
	}
	return nil, "", nil
}

// errMM2Running says MirrorMaker 2 still copies: taking over now would
// copy every record twice. The start is retried until MM2 stopped.
var errMM2Running = errors.New("MirrorMaker 2 still runs")

// mm2Running returns the first of MM2's Connect worker groups on the target
// (the one the target's config names, group.id, then MM2's defaults) that
// has members, "" when none has.
func (sr *starter) mm2Running(ctx context.Context) (string, error) {
	_, names := mm2.Look(sr.cfg.Source, sr.tgt.ConnectOffsetsTopic, sr.tgt.ConnectGroup)
	groups, err := cluster.DescribeGroups(ctx, sr.tgtAdm, names...)
	if err != nil {
		return "", fmt.Errorf("describe MirrorMaker 2's worker groups %s on %q: %w", strings.Join(names, ", "), sr.cfg.Target, err)
	}
	for _, name := range names {
		g := groups[name]
		if g.Err != nil {
			return "", fmt.Errorf("describe MirrorMaker 2's worker group %q on %q: %w", name, sr.cfg.Target, g.Err)
		}
		if g.Active() {
			return fmt.Sprintf("%s (%d members)", name, g.Members), nil
		}
	}
	return "", nil
}

// takeOver starts the partitions of keys that MM2 copied: each from MM2's
// last offset sync, which names a target record and the source record it
// copies; the target's records from there on are compared with the
// source's, as after a crash, and the copy resumes after the last match —
// so that nothing MM2 copied is copied again, what it had not committed
// included. What lies below the sync translates with MM2's syncs.
//
// Unless in a dry run, it first checks that MM2 stopped: taking over from
// an MM2 that still copies would copy every record twice. The partitions
// copy in slot s's transactions when s is set.
func (sr *starter) takeOver(ctx context.Context, mm2s mm2State, keys []progress.Partition, byName map[string]discover.Topic, o offsets, s *slot) ([]*partition, []TakenOver, error) {
	if len(keys) == 0 {
		return nil, nil, nil
	}
	dryRun := sr.dryRun()
	if !dryRun {
		if running, err := sr.mm2Running(ctx); err != nil {
			sr.log.Warn("cannot tell whether MirrorMaker 2 still runs; taking over", "err", err)
		} else if running != "" {
			return nil, nil, fmt.Errorf("%w: its Connect group %s on %q; stop it, kmirror then takes over %d partitions it copied", errMM2Running, running, sr.cfg.Target, len(keys))
		}
	}
	var (
		out      []*partition
		todo     []resumeFrom
		reports  []TakenOver
		compared = map[progress.Partition]bool{}
	)
	for _, k := range keys {
		t := byName[k.Topic]
		rep := TakenOver{Topic: k.Topic, Partition: k.Partition, MM2Next: -1}
		if next, ok := mm2s.next[k]; ok {
			rep.MM2Next, rep.OffsetsTopic = next, mm2s.topic
		}
		anchor, ok := mm2s.syncs[k].Last()
		if !ok {
			_, syncs := sr.cfg.OffsetSyncs()
			_, other := sr.cfg.OffsetSyncsElsewhere()
			return nil, nil, errFatal{fmt.Errorf("take over %s[%d] from MirrorMaker 2: its offsets topic %s resumes it at %d, but neither %q nor %q (offset-syncs.topic.location target and source) holds an MM2 offset sync of it that kmirror can read: without one kmirror cannot tell where MM2's copies end",
				k.Topic, k.Partition, mm2s.topic, rep.MM2Next, syncs, other)}
		}
		rep.Anchor = anchor
		srcStart, _ := o.srcStarts.Lookup(k.Topic, k.Partition)
		srcEnd, _ := o.srcEnds.Lookup(k.Topic, k.Partition)
		tgtEnd, _ := o.tgtEnds.Lookup(t.Target, k.Partition)
		if srcStart.Err != nil || srcEnd.Err != nil || tgtEnd.Err != nil {
			return nil, nil, fmt.Errorf("offsets of %s[%d]: %w", k.Topic, k.Partition, errors.Join(srcStart.Err, srcEnd.Err, tgtEnd.Err))
		}
		if anchor.Downstream >= tgtEnd.Offset {
			return nil, nil, errFatal{fmt.Errorf("take over %s[%d] from MirrorMaker 2: its last offset sync names target offset %d, but %s[%d] on %q ends at %d: was the target topic deleted or truncated since?",
				k.Topic, k.Partition, anchor.Downstream, t.Target, k.Partition, sr.cfg.Target, tgtEnd.Offset)}
		}
		if anchor.Upstream < srcStart.Offset {
			// The source's retention deleted the sync's record: nothing
			// to compare with. Copy from MM2's position, or what is left.
			from := max(rep.MM2Next, srcStart.Offset)
			rep.Resume = from
			out = append(out, sr.newPartition(k, t, offsetmap.New(from, tgtEnd.Offset), mm2s.syncs[k], true, s))
			reports = append(reports, rep)
			sr.log.Warn("taking over from MirrorMaker 2 without comparing: the source no longer holds the record of MM2's last offset sync; records MM2 copied past its commit may be copied again",
				"topic", k.Topic, "partition", k.Partition, "from", from)
			continue
		}
		p := sr.newPartition(k, t, offsetmap.New(anchor.Upstream, anchor.Downstream), mm2s.syncs[k], true, s)
		todo = append(todo, resumeFrom{p: p, from: anchor.Downstream, tgtEnd: tgtEnd.Offset, srcEnd: srcEnd.Offset})
		compared[k] = true
		out = append(out, p)
		reports = append(reports, rep)
	}
	matched, err := sr.resume(ctx, todo)
	if err != nil {
		return nil, nil, fmt.Errorf("take over from MirrorMaker 2: %w", err)
	}
	if !dryRun {
		if err := sr.carryMM2Syncs(ctx, mm2s, keys); err != nil {
			return nil, nil, err
		}
	}
	for i, p := range out {
		rep := &reports[i]
		if !compared[p.key] {
			continue
		}
		n := matched[p.key]
		if n == 0 {
			return nil, nil, errFatal{fmt.Errorf("take over %s[%d] from MirrorMaker 2: the target record at %d is not the copy of source offset %d that MM2's last offset sync names: was a topic deleted and created again since MM2 copied it?",
				p.key.Topic, p.key.Partition, rep.Anchor.Downstream, rep.Anchor.Upstream)}
		}
		rep.Resume = rep.Anchor.Upstream + int64(n)
		log := sr.log.With("topic", p.key.Topic, "partition", p.key.Partition)
		if rep.MM2Next > rep.Resume {
			log.Warn("the target's records do not match the source's up to where MirrorMaker 2 committed; copying resumes after the last match, and records MM2 copied past it may be copied again",
				"mm2_committed", rep.MM2Next, "resume", rep.Resume)
		}
		if !dryRun {
			log.Info("taking over from MirrorMaker 2", "mm2_resumes_at", rep.MM2Next, "resume", rep.Resume, "offsets_topic", mm2s.topic)
		}
	}
	slices.SortFunc(reports, func(a, b TakenOver) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out, reports, nil
}

// carryMM2Syncs copies the MM2 offset syncs of the partitions taken over
// that MM2 wrote at the other location into the flow's offset-syncs topic,
// in MM2's format, so that a restarted worker still translates what MM2
// copied.
func (sr *starter) carryMM2Syncs(ctx context.Context, mm2s mm2State, keys []progress.Partition) error {
	carry := map[progress.Partition]mm2.History{}
	for _, k := range keys {
		if mm2s.elsewhere[k] {
			carry[k] = mm2s.syncs[k]
		}
	}
	return sr.store.CarryMM2(ctx, carry)
}

// TakeoverPlan is what a flow would take over from MirrorMaker 2.
type TakeoverPlan struct {
	// Partitions are the partitions MM2 copied and kmirror has no progress
	// of, with where copying would resume.
	Partitions []TakenOver
	// Running names MM2's Connect group that still has members, "" when
	// MM2 stopped (or could not be checked: Err says why).
	Running string
	Err     error
}

// PlanTakeover works out, without writing anything, which partitions of
// the topics a flow would take over from MirrorMaker 2 and where their
// copying would resume, comparing the target's tails with the source as
// the takeover does. The topics must exist on the target.
func PlanTakeover(ctx context.Context, f *config.Flow, src, tgt *config.Cluster, topics []discover.Topic, log *slog.Logger) (TakeoverPlan, error) {
	log = log.With("component", "mirror", "flow", f.Name())
	c, err := dial(ctx, f, src, tgt, false, log)
	if err != nil {
		return TakeoverPlan{}, err
	}
	defer c.close()
	cache, err := progress.NewCache(f, src, tgt, log)
	if err != nil {
		return TakeoverPlan{}, err
	}
	defer cache.Close()
	// Without a store the starter writes nothing: a dry run.
	st := &starter{conn: c, cfg: f, src: src, tgt: tgt, log: log, cache: cache, cat: newCatalogue(f),
		fail: func(error) {}, metrics: NewMetrics(nil)}
	var keys []progress.Partition
	for _, t := range topics {
		for p := range t.Partitions {
			keys = append(keys, progress.Partition{Topic: t.Source, Partition: p})
		}
	}
	var plan TakeoverPlan
	if len(keys) == 0 {
		return plan, nil
	}
	if _, plan.Partitions, err = st.load(ctx, topics, keys, nil); err != nil {
		return plan, err
	}
	if len(plan.Partitions) > 0 {
		plan.Running, plan.Err = st.mm2Running(ctx)
	}
	return plan, nil
}
