package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/policy"
	"github.com/kmirror/kmirror/internal/progress"
)

// groupOffset is a group's committed source offset, translated: what the
// sync commits on the target, with the source commit's metadata.
type groupOffset struct {
	targetTopic string
	partition   int32
	translated  int64
	metadata    string
}

// Stats count what one round did. The verdict on each group (in sync,
// pending, ahead, switched) is status's: this is what the syncer did.
type Stats struct {
	Groups      int // selected groups
	Translated  int // group partitions translated
	Checkpoints int // checkpoint records written
	Committed   int // group partitions committed on the target
}

// Syncer emits checkpoints and syncs group offsets for one flow.
type Syncer struct {
	cfg    *config.Flow
	srcCl  *kgo.Client
	src    *kadm.Client
	tgt    *kadm.Client
	tgtCl  *kgo.Client
	view   progress.View
	log    *slog.Logger
	topic  string
	filter policy.Filter

	// mu guards filter and relist, which SetGroups changes while
	// rounds run; the rest belongs to the round.
	mu      sync.Mutex
	emitted map[emitKey]Record
	// translated is the last translation of each group partition's
	// committed offset (keyed by source topic): an exact one stands while
	// the offset does, so a round translates only the offsets that moved
	// or were not exactly translated yet.
	translated map[emitKey]translation
	// synced is what each target group partition is known to hold at
	// least (keyed by target topic): what the syncer committed, or found
	// there. A sync looks at the groups whose translation moved past it.
	synced map[emitKey]int64
	// checkedAt is when the caches were last cleared: every recheck, a
	// round translates and compares everything again, for what changed
	// without a new commit on the source (a target group deleted or
	// reset by hand).
	checkedAt time.Time
	listed    []string
	listAt    time.Time
	syncAt    time.Time
	// tick is the round interval; a sync is due half a tick early, so that
	// a ticker firing a little early does not skip it.
	tick time.Duration

	metrics *Metrics
	// relist asks the next round to list the groups again (under mu).
	relist bool
	// prior are the checkpoints the topic held when the syncer started,
	// read by the first round: MirrorMaker 2's too, when kmirror took over
	// from it. nil until read.
	prior Checkpoints
}

type emitKey struct {
	group, topic string
	partition    int32
}

// translation is the translation of a group partition's committed
// offset at.
type translation struct {
	at       int64
	tr       progress.Translation
	mirrored bool
}

// recheck is how often a syncer translates and compares every group
// partition again, changed or not.
const recheck = 5 * time.Minute

// Options tune a Syncer; the zero value is the default.
type Options struct {
	// Metrics is what the syncer counts into; nil is a set registered
	// nowhere.
	Metrics *Metrics
	// Groups is the flow whose group selection (groups, groups.exclude)
	// the syncer follows until SetGroups: the latest a reload gave a flow
	// whose syncer starts after it. nil is the flow's own.
	Groups *config.Flow
}

// NewSyncer prepares a syncer; srcCl and tgtCl are clients of the flow's
// clusters (tgtCl also writes the checkpoints), view translates the
// committed offsets (the running flow).
func NewSyncer(f *config.Flow, srcCl, tgtCl *kgo.Client, view progress.View, logger *slog.Logger, opts Options) *Syncer {
	metrics := opts.Metrics
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	groups := f
	if opts.Groups != nil {
		groups = opts.Groups
	}
	return &Syncer{
		cfg: f, srcCl: srcCl, src: kadm.NewClient(srcCl), tgt: kadm.NewClient(tgtCl), tgtCl: tgtCl, view: view,
		log:     logger.With("component", "checkpoint", "flow", f.Name()),
		topic:   f.Replication.CheckpointsTopic(f.Source),
		filter:  policy.Filter{Include: groups.Groups, Exclude: groups.GroupsExclude},
		emitted: map[emitKey]Record{}, translated: map[emitKey]translation{}, synced: map[emitKey]int64{},
		metrics: metrics,
	}
}

// SetGroups applies a new group selection (groups, groups.exclude) from
// the next round on.
func (s *Syncer) SetGroups(f *config.Flow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filter = policy.Filter{Include: f.Groups, Exclude: f.GroupsExclude}
	s.relist = true
}

// Run emits checkpoints every emit.checkpoints.interval.seconds and syncs
// offsets every sync.group.offsets.interval.seconds until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	if !s.cfg.EmitCheckpoints && !s.cfg.SyncGroupOffsets {
		return nil
	}
	if s.cfg.EmitCheckpoints {
		if err := cluster.EnsureInternalTopic(ctx, s.tgt, s.cfg.InternalTopic(config.InternalCheckpoints)); err != nil {
			if ctx.Err() != nil {
				return nil // stopped while starting
			}
			return err
		}
	}
	interval := s.cfg.EmitCheckpointsInterval
	if s.cfg.SyncGroupOffsets && (!s.cfg.EmitCheckpoints || s.cfg.SyncGroupOffsetsInterval < interval) {
		interval = s.cfg.SyncGroupOffsetsInterval
	}
	s.tick = interval
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		st, err := s.Round(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("checkpoint round failed; retrying", "err", err, "groups", st.Groups, "translated", st.Translated)
		case err == nil:
			s.log.Debug("checkpoint round", "groups", st.Groups, "translated", st.Translated, "checkpoints", st.Checkpoints, "committed", st.Committed)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// selected lists the source groups the flow follows, refreshed every
// refresh.groups.interval.seconds; listed says the list was read again.
func (s *Syncer) selected(ctx context.Context) (groups []string, listed bool, err error) {
	s.mu.Lock()
	filter, relist := s.filter, s.relist
	s.relist = false
	s.mu.Unlock()
	if !relist && s.listed != nil && (!s.cfg.RefreshGroups || time.Since(s.listAt) < s.cfg.RefreshGroupsInterval) {
		return s.listed, false, nil
	}
	out, err := discover.SelectGroups(ctx, s.src, s.cfg.Source, filter)
	if err != nil {
		return nil, false, err
	}
	s.listed, s.listAt = out, time.Now()
	return out, true, nil
}

// Round reads every selected group's committed offsets once, translates
// those that moved (see translated), writes the checkpoints that changed,
// and syncs the target groups when due.
func (s *Syncer) Round(ctx context.Context) (Stats, error) {
	began := time.Now()
	defer func() {
		s.metrics.round.WithLabelValues(s.cfg.Source, s.cfg.Target).Observe(time.Since(began).Seconds())
	}()
	groups, listed, err := s.selected(ctx)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Groups: len(groups)}
	if time.Since(s.checkedAt) >= recheck {
		clear(s.translated)
		clear(s.synced)
		s.checkedAt = time.Now()
	}
	if len(groups) == 0 {
		clear(s.emitted)
		clear(s.translated)
		clear(s.synced)
		return st, nil
	}
	var errs []error
	fetched := cluster.CommittedOffsets(ctx, s.srcCl, groups)
	// offsets are the translations to sync: those past what their target
	// group is known to hold.
	offsets := map[string][]groupOffset{}
	var records []*kgo.Record
	for _, g := range groups {
		resp := fetched[g]
		if resp.Err != nil {
			errs = append(errs, fmt.Errorf("fetch the offsets of group %q on %q: %w", g, s.cfg.Source, resp.Err))
			continue
		}
		for _, o := range resp.Offsets {
			tk := emitKey{g, o.Topic, o.Partition}
			last, ok := s.translated[tk]
			if !ok || last.at != o.At || !last.mirrored || last.tr.Result != offsetmap.Exact {
				tr, mirrored, err := Translate(ctx, s.view, s.cfg, func() Checkpoints { return s.readPrior(ctx) }, g, progress.Partition{Topic: o.Topic, Partition: o.Partition}, o.At)
				if err != nil {
					delete(s.translated, tk)
					errs = append(errs, err)
					continue
				}
				last = translation{at: o.At, tr: tr, mirrored: mirrored}
				s.translated[tk] = last
			}
			tr, mirrored := last.tr, last.mirrored
			if !mirrored {
				continue // only offsets of replicated topics count
			}
			if tr.Result != offsetmap.Exact {
				continue // not mirrored yet, or expired: nothing to sync
			}
			st.Translated++
			k := emitKey{g, tr.Target, o.Partition}
			if at, ok := s.synced[k]; !ok || at < tr.Offset {
				offsets[g] = append(offsets[g], groupOffset{targetTopic: tr.Target, partition: o.Partition, translated: tr.Offset, metadata: o.Metadata})
			}
			rec := Record{Group: g, Topic: tr.Target, Partition: o.Partition, Upstream: o.At, Downstream: tr.Offset, Metadata: o.Metadata}
			if s.cfg.EmitCheckpoints && s.emitted[k] != rec {
				// A record that cannot be encoded is remembered as
				// emitted all the same: it would fail again, and the
				// warning comes once, not every round.
				s.emitted[k] = rec
				if key, value, err := rec.Encode(); err != nil {
					s.log.Warn("checkpoint skipped", "group", g, "topic", tr.Target, "partition", o.Partition, "err", err)
				} else {
					records = append(records, &kgo.Record{Topic: s.topic, Key: key, Value: value})
				}
			}
		}
	}
	// Once the groups are listed again, forget what was emitted,
	// translated and synced for groups no longer selected (deleted, or
	// out of the selection), so that the caches do not grow forever.
	if listed {
		selected := make(map[string]bool, len(groups))
		for _, g := range groups {
			selected[g] = true
		}
		forget(s.emitted, selected)
		forget(s.translated, selected)
		forget(s.synced, selected)
	}
	if len(records) > 0 {
		if err := s.tgtCl.ProduceSync(ctx, records...).FirstErr(); err != nil {
			// Emit them again next round.
			for _, r := range records {
				if rec, derr := Decode(r.Key, r.Value); derr == nil {
					delete(s.emitted, emitKey{rec.Group, rec.Topic, rec.Partition})
				}
			}
			errs = append(errs, fmt.Errorf("write checkpoints to %q: %w", s.topic, err))
		} else {
			st.Checkpoints = len(records)
			s.metrics.emitted.WithLabelValues(s.cfg.Source, s.cfg.Target).Add(float64(len(records)))
		}
	}
	// time.Since of the zero time is the largest Duration: adding to it
	// would overflow, hence the IsZero.
	if s.cfg.SyncGroupOffsets && (s.syncAt.IsZero() || time.Since(s.syncAt)+s.tick/2 >= s.cfg.SyncGroupOffsetsInterval) {
		s.syncAt = time.Now()
		n, err := s.sync(ctx, offsets)
		st.Committed = n
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// markSynced records that group g's target group holds offsets, or more.
func (s *Syncer) markSynced(g string, offsets []groupOffset) {
	for _, o := range offsets {
		s.synced[emitKey{g, o.targetTopic, o.partition}] = o.translated
	}
}

// forget deletes the keys of m whose group is not selected.
func forget[V any](m map[emitKey]V, selected map[string]bool) {
	for k := range m {
		if !selected[k.group] {
			delete(m, k)
		}
	}
}

// readPrior reads the checkpoints written before the syncer started —
// MM2's, after a takeover — once, when a translation first needs them.
func (s *Syncer) readPrior(ctx context.Context) Checkpoints {
	if s.prior == nil {
		prior, err := ReadCheckpoints(ctx, s.tgtCl.Opts(), s.topic)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("cannot read the checkpoints written before; translating without them", "topic", s.topic, "err", err)
			prior = Checkpoints{}
		}
		s.prior = prior
	}
	return s.prior
}

// sync commits the translated offsets to the target groups that have no
// active members there, never moving a group backwards. It returns how
// many group partitions it committed.
func (s *Syncer) sync(ctx context.Context, offsets map[string][]groupOffset) (int, error) {
	// offsets hold only the translations past what their target group is
	// known to hold: a round where nothing moved asks the target nothing.
	names := slices.Collect(maps.Keys(offsets))
	if len(names) == 0 {
		return 0, nil
	}
	slices.Sort(names)
	described, err := cluster.DescribeGroups(ctx, s.tgt, names...)
	if err != nil {
		return 0, fmt.Errorf("describe groups on %q: %w", s.cfg.Target, err)
	}
	committed := s.tgt.FetchManyOffsets(ctx, names...)
	commits := map[string]kadm.Offsets{}
	topics := map[string]bool{}
	for _, g := range names {
		if described[g].Active() {
			// Its consumers run on the target: theirs to commit. It is
			// looked at every round, to sync it once they left.
			continue
		}
		commit := kadm.Offsets{}
		for _, o := range offsets[g] {
			if c, ok := committed[g].Fetched.Lookup(o.targetTopic, o.partition); ok && c.Err == nil && c.At >= o.translated {
				s.synced[emitKey{g, o.targetTopic, o.partition}] = o.translated
				continue // in sync, or ahead: never moved back
			}
			commit.Add(kadm.Offset{Topic: o.targetTopic, Partition: o.partition, At: o.translated, LeaderEpoch: -1, Metadata: o.metadata})
			topics[o.targetTopic] = true
		}
		if len(commit) > 0 {
			commits[g] = commit
		}
	}
	if len(commits) == 0 {
		return 0, nil
	}
	ids, err := cluster.TopicIDs(ctx, s.tgtCl, slices.Collect(maps.Keys(topics)))
	if err != nil {
		return 0, fmt.Errorf("look up the IDs of %d topics on %q: %w", len(topics), s.cfg.Target, err)
	}
	var errs []error
	n := 0
	for _, g := range names {
		commit, ok := commits[g]
		if !ok {
			continue
		}
		resp, err := cluster.CommitOffsets(ctx, s.tgtCl, ids, g, commit)
		if err == nil {
			err = resp.Error()
		}
		switch {
		case err == nil:
			n += len(resp.Sorted())
			s.markSynced(g, offsets[g])
			s.metrics.synced.WithLabelValues(s.cfg.Source, s.cfg.Target, g).Inc()
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress):
			// A member joining meanwhile is refused by the broker: the
			// group is active now, which is no failure.
		default:
			errs = append(errs, fmt.Errorf("commit offsets of group %q on %q: %w", g, s.cfg.Target, err))
		}
	}
	return n, errors.Join(errs...)
}
