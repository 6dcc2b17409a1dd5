package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/policy"
)

// Translator translates committed source offsets: the mirror flow.
type Translator interface {
	Translate(topic string, partition int32, g int64) (mirror.Translation, bool)
}

// Reasons a partition of a group is not synced.
const (
	ReasonNotMirrored  = "not yet mirrored"
	ReasonExpired      = "expired: below what the offset map covers"
	ReasonActive       = "group active on the target"
	ReasonTargetAhead  = "the target group is ahead; not moved back"
	ReasonNoReplicated = "attached to no replicated topic"
	ReasonCommitFailed = "commit on the target failed"
	ReasonSyncDisabled = "sync.group.offsets.enabled is false"
	ReasonSyncPending  = "translated; waiting for the next sync"
	ReasonInSync       = ""
	protocolConsumer   = "consumer"
)

// PartitionState is one partition of a group, as the last round saw it.
type PartitionState struct {
	Topic       string // source topic
	TargetTopic string
	Partition   int32
	Source      int64 // committed on the source
	Translated  int64 // -1 when not translated
	Target      int64 // committed on the target, -1 when none
	Reason      string
	Metadata    string // committed with the source offset; kept on the target
}

// GroupState is one selected group, as the last round saw it.
type GroupState struct {
	Group          string
	ActiveOnTarget bool
	Reason         string
	Partitions     []PartitionState
	Updated        time.Time
}

// Syncer emits checkpoints and syncs group offsets for one flow.
type Syncer struct {
	cfg    *config.Flow
	src    *kadm.Client
	tgt    *kadm.Client
	tgtCl  *kgo.Client
	tr     Translator
	log    *slog.Logger
	topic  string
	filter policy.Filter

	mu      sync.Mutex
	groups  map[string]*GroupState
	emitted map[emitKey]Record
	listed  []string
	listAt  time.Time
	syncAt  time.Time
	// lastRound is how long the last round took.
	lastRound time.Duration
	// allowRewind lets the sync move a target group back to the
	// translation; off unless the operator asks (kmirror migrate).
	allowRewind atomic.Bool
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

// NewSyncer prepares a syncer; src and tgt are admin clients of the flow's
// clusters, tgtCl writes the checkpoints.
func NewSyncer(f *config.Flow, src, tgt *kadm.Client, tgtCl *kgo.Client, tr Translator, logger *slog.Logger) *Syncer {
	return &Syncer{
		cfg: f, src: src, tgt: tgt, tgtCl: tgtCl, tr: tr,
		log:    logger.With("component", "checkpoint", "flow", f.Name()),
		topic:  f.Replication.CheckpointsTopic(f.Source),
		filter: policy.Filter{Include: f.Groups, Exclude: f.GroupsExclude},
		groups: map[string]*GroupState{}, emitted: map[emitKey]Record{},
		metrics: NewMetrics(nil),
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

// Instrument makes the syncer count into m; call it before Run.
func (s *Syncer) Instrument(m *Metrics) { s.metrics = m }

// Run emits checkpoints every emit.checkpoints.interval.seconds and syncs
// offsets every sync.group.offsets.interval.seconds until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	if !s.cfg.EmitCheckpoints && !s.cfg.SyncGroupOffsets {
		return nil
	}
	if s.cfg.EmitCheckpoints {
		if err := cluster.EnsureCompactedTopic(ctx, s.tgt, s.topic, s.cfg.CheckpointsReplicationFactor, config.KeyCheckpointsReplication); err != nil {
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
		if err := s.Round(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("checkpoint round failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// selected lists the source groups the flow follows, refreshed every
// refresh.groups.interval.seconds.
func (s *Syncer) selected(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	filter, relist := s.filter, s.relist
	s.relist = false
	s.mu.Unlock()
	if !relist && s.listed != nil && (!s.cfg.RefreshGroups || time.Since(s.listAt) < s.cfg.RefreshGroupsInterval) {
		return s.listed, nil
	}
	out, err := SelectGroups(ctx, s.src, s.cfg.Source, filter)
	if err != nil {
		return nil, err
	}
	s.listed, s.listAt = out, time.Now()
	return out, nil
}

// SelectGroups lists the consumer groups of the source cluster (named
// alias, for errors) that filter selects, sorted: the groups a flow
// follows.
func SelectGroups(ctx context.Context, src *kadm.Client, alias string, filter policy.Filter) ([]string, error) {
	groups, err := src.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups of %q: %w", alias, err)
	}
	var out []string
	for _, g := range groups.Sorted() {
		if g.ProtocolType != protocolConsumer && g.ProtocolType != "" {
			continue
		}
		if v, err := filter.Select(g.Group); err == nil && v.Selected {
			out = append(out, g.Group)
		}
	}
	return out, nil
}

// Round translates every selected group's committed offsets once, writes
// the checkpoints that changed, and syncs the target groups when due.
func (s *Syncer) Round(ctx context.Context) error {
	began := time.Now()
	defer func() {
		took := time.Since(began)
		s.metrics.round.WithLabelValues(s.cfg.Source, s.cfg.Target).Observe(took.Seconds())
		s.mu.Lock()
		s.lastRound = took
		s.mu.Unlock()
	}()
	if s.prior == nil {
		prior, err := ReadCheckpoints(ctx, s.tgtCl.Opts(), s.topic)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("cannot read the checkpoints written before; translating without them", "topic", s.topic, "err", err)
			prior = Checkpoints{}
		}
		s.prior = prior
	}
	groups, err := s.selected(ctx)
	if err != nil {
		return err
	}
	if len(groups) == 0 {
		clear(s.emitted)
		s.mu.Lock()
		s.groups = map[string]*GroupState{}
		s.mu.Unlock()
		return nil
	}
	fetched := s.src.FetchManyOffsets(ctx, groups...)
	now := time.Now()
	states := map[string]*GroupState{}
	var records []*kgo.Record
	for _, g := range groups {
		st := &GroupState{Group: g, Updated: now}
		states[g] = st
		resp, ok := fetched[g]
		if !ok {
			st.Reason = "cannot fetch its source offsets"
			continue
		}
		if resp.Err != nil {
			st.Reason = fmt.Sprintf("cannot fetch its source offsets: %v", resp.Err)
			continue
		}
		for _, o := range resp.Fetched.Sorted() {
			if o.Err != nil || o.At < 0 {
				continue
			}
			tr, mirrored := s.tr.Translate(o.Topic, o.Partition, o.At)
			if !mirrored {
				continue // only offsets of replicated topics count
			}
			tr = s.prior.Improve(g, o.Partition, o.At, tr)
			ps := PartitionState{Topic: o.Topic, TargetTopic: tr.Target, Partition: o.Partition, Source: o.At, Translated: -1, Target: -1, Metadata: o.Metadata}
			switch tr.Result {
			case offsetmap.NotYetMirrored:
				ps.Reason = ReasonNotMirrored
			case offsetmap.Expired:
				ps.Reason = ReasonExpired
			default:
				ps.Translated = tr.Offset
				rec := Record{Group: g, Topic: tr.Target, Partition: o.Partition, Upstream: o.At, Downstream: tr.Offset, Metadata: o.Metadata}
				k := emitKey{g, tr.Target, o.Partition}
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
			st.Partitions = append(st.Partitions, ps)
		}
		if len(st.Partitions) == 0 {
			st.Reason = ReasonNoReplicated
		}
	}
	// Forget what was emitted for groups no longer selected (deleted, or
	// out of the selection), so that the cache does not grow forever.
	for k := range s.emitted {
		if _, ok := states[k.group]; !ok {
			delete(s.emitted, k)
		}
	}
	var errs []error
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
			s.metrics.emitted.WithLabelValues(s.cfg.Source, s.cfg.Target).Add(float64(len(records)))
		}
	}
	// time.Since of the zero time is the largest Duration: adding to it
	// would overflow, hence the IsZero.
	if s.cfg.SyncGroupOffsets && (s.syncAt.IsZero() || time.Since(s.syncAt)+s.tick/2 >= s.cfg.SyncGroupOffsetsInterval) {
		s.syncAt = time.Now()
		errs = append(errs, s.sync(ctx, states))
	} else if !s.cfg.SyncGroupOffsets {
		for _, st := range states {
			for i := range st.Partitions {
				if st.Partitions[i].Reason == "" {
					st.Partitions[i].Reason = ReasonSyncDisabled
				}
			}
		}
	} else {
		s.keepTargetView(states)
	}
	s.mu.Lock()
	s.groups = states
	s.mu.Unlock()
	return errors.Join(errs...)
}

// keepTargetView carries the target view of the last sync into a round
// without a sync, and says which partitions wait for the next one.
func (s *Syncer) keepTargetView(states map[string]*GroupState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for g, st := range states {
		old := s.groups[g]
		if old != nil {
			st.ActiveOnTarget = old.ActiveOnTarget
		}
		for i := range st.Partitions {
			ps := &st.Partitions[i]
			if ps.Translated < 0 {
				continue
			}
			if old != nil {
				for _, op := range old.Partitions {
					if op.Topic == ps.Topic && op.Partition == ps.Partition {
						ps.Target = op.Target
					}
				}
			}
			switch {
			case st.ActiveOnTarget:
				ps.Reason = ReasonActive
			case ps.Target > ps.Translated:
				ps.Reason = ReasonTargetAhead
			case ps.Target < ps.Translated:
				ps.Reason = ReasonSyncPending
			}
		}
	}
}

// sync commits the translated offsets to the target groups that have no
// active members there, never moving a group backwards.
func (s *Syncer) sync(ctx context.Context, states map[string]*GroupState) error {
	var names []string
	for g, st := range states {
		if len(st.Partitions) > 0 {
			names = append(names, g)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	described, err := cluster.DescribeGroups(ctx, s.tgt, names...)
	if err != nil {
		return fmt.Errorf("describe groups on %q: %w", s.cfg.Target, err)
	}
	committed := s.tgt.FetchManyOffsets(ctx, names...)
	var errs []error
	for _, g := range names {
		st := states[g]
		if described[g].Active() {
			st.ActiveOnTarget = true
		}
		cur := committed[g]
		offsets := kadm.Offsets{}
		for i := range st.Partitions {
			ps := &st.Partitions[i]
			if o, ok := cur.Fetched.Lookup(ps.TargetTopic, ps.Partition); ok && o.Err == nil && o.At >= 0 {
				ps.Target = o.At
			}
			switch {
			case ps.Translated < 0:
			case st.ActiveOnTarget:
				ps.Reason = ReasonActive
			case ps.Target > ps.Translated && !s.allowRewind.Load():
				ps.Reason = ReasonTargetAhead
			case ps.Target == ps.Translated:
				ps.Reason = ReasonInSync
			default:
				offsets.Add(kadm.Offset{Topic: ps.TargetTopic, Partition: ps.Partition, At: ps.Translated, LeaderEpoch: -1, Metadata: ps.Metadata})
			}
		}
		if len(offsets) == 0 {
			continue
		}
		resp, err := s.tgt.CommitOffsets(ctx, g, offsets)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			s.metrics.synced.WithLabelValues(s.cfg.Source, s.cfg.Target, g).Inc()
		}
		for i := range st.Partitions {
			ps := &st.Partitions[i]
			if _, ok := offsets.Lookup(ps.TargetTopic, ps.Partition); !ok {
				continue
			}
			if err != nil {
				ps.Reason = ReasonCommitFailed
				continue
			}
			ps.Target, ps.Reason = ps.Translated, ReasonInSync
		}
		if err != nil {
			// A member joining meanwhile is refused by the broker: the
			// group is active now, which is no failure.
			if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
				st.ActiveOnTarget = true
				continue
			}
			errs = append(errs, fmt.Errorf("commit offsets of group %q on %q: %w", g, s.cfg.Target, err))
		}
	}
	return errors.Join(errs...)
}

// Groups returns the state of every selected group after the last round,
// sorted by name.
func (s *Syncer) Groups() []GroupState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]GroupState, 0, len(s.groups))
	for _, g := range s.groups {
		c := *g
		c.Partitions = slices.Clone(g.Partitions)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b GroupState) int {
		switch {
		case a.Group < b.Group:
			return -1
		case a.Group > b.Group:
			return 1
		}
		return 0
	})
	return out
}

// AllowRewind lets the sync move target groups that are ahead of the
// translation back to it, for an operator who asks to.
func (s *Syncer) AllowRewind(allow bool) { s.allowRewind.Store(allow) }

// LastRound is how long the last round took: translating, checkpointing
// and syncing every selected group once.
func (s *Syncer) LastRound() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastRound
}
