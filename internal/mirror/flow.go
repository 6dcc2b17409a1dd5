package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kmirror/kmirror/internal/progress"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/policy"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// Timings of the copy path.
const (
	// FlushInterval is how often progress and offset syncs are persisted;
	// after a crash, at most this much copying is repeated.
	FlushInterval = 500 * time.Millisecond
	// StopTimeout bounds a clean stop: flushing the producer and the last
	// progress.
	StopTimeout = 30 * time.Second
)

// Flow copies the topics of one configured flow.
type Flow struct {
	cfg      *config.Flow
	src, tgt *config.Cluster
	log      *slog.Logger

	srcAdm, tgtAdm *kadm.Client
	srcCl, tgtCl   *kgo.Client
	producer       *kgo.Client
	clusterID      string

	// store persists the progress and offset map; cache reads them back
	// (what the workers persisted) when partitions are assigned.
	store *progress.Store
	cache *progress.Cache

	// member is the flow's place in its workers' group: it copies only
	// what the group gives it, and only while the group confirms it.
	member *workgroup.Member

	mu sync.Mutex
	// avail are the topics ready to copy, by source name: what the group
	// shares out. parts are the partitions this worker copies.
	avail   map[string]Topic
	parts   map[progress.Partition]*partition
	tasks   []*task
	blocked []Blocked
	// spawn starts a task once Run is running; before, Run starts them.
	spawn func(*task)
	// fail stops the run with the first partition failure.
	fail func(error)

	// recreated holds source topics whose id differs from the one their
	// progress names, reported once and not copied.
	recreated map[string]bool

	// throttle paces all the flow's tasks; nil when there is no cap.
	throttle *rate.Limiter

	// overtaken counts partitions whose next offset the source's retention
	// deleted before it was copied; lost counts the source offsets lost.
	overtaken, lost atomic.Int64

	metrics *Metrics
	// ready is set once the flow's tasks copy.
	ready atomic.Bool

	// filter selects the topics; Reconfigure changes it (under mu), and
	// kick asks the discovery loop to apply it at once.
	filter policy.Filter
	kick   chan struct{}
}

// NewFlow prepares a flow; nothing connects until Run.
func NewFlow(f *config.Flow, src, tgt *config.Cluster, logger *slog.Logger) *Flow {
	fl := &Flow{cfg: f, src: src, tgt: tgt, log: logger.With("component", "mirror", "flow", f.Name()),
		parts: map[progress.Partition]*partition{}, recreated: map[string]bool{},
		metrics: NewMetrics(nil), filter: policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}, kick: make(chan struct{}, 1)}
	fl.member = workgroup.New(workgroup.Options{Group: workgroup.Name(f.Source, f.Target),
		SessionTimeout: f.SessionTimeout, HeartbeatInterval: f.HeartbeatInterval, RebalanceTimeout: f.RebalanceTimeout},
		sharing{fl}, fl.log)
	if bps := f.ThrottleBytesPerSecond; bps > 0 {
		fl.throttle = rate.NewLimiter(rate.Limit(bps), int(max(bps, 64<<10)))
	}
	return fl
}

// Instrument makes the flow count into m; call it before Run.
func (fl *Flow) Instrument(m *Metrics) { fl.metrics = m }

// Ready tells whether the flow has started copying: it has its share of
// the partitions.
func (fl *Flow) Ready() bool {
	return fl.ready.Load() && fl.member.Rebalances() > 0
}

// Worker is the flow's member id in its workers' group, "" before it
// joined.
func (fl *Flow) Worker() string { return fl.member.ID() }

// Rebalances is how many rebalances of the workers' group this worker
// went through.
func (fl *Flow) Rebalances() int64 { return fl.member.Rebalances() }

// Run copies until ctx ends, then stops cleanly: it stops fetching, waits
// for every produced record to be acknowledged, persists the progress, and
// leaves the workers' group, so that a restart copies nothing twice and
// the other workers take over at once.
func (fl *Flow) Run(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	fl.fail = func(err error) { cancel(err) }
	if err := fl.open(ctx); err != nil {
		fl.close()
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	defer fl.close()
	if err := fl.refresh(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	fl.mu.Lock()
	fl.spawn = func(t *task) { g.Go(func() error { return t.run(gctx) }) }
	fl.mu.Unlock()
	// The membership outlives the copying: heartbeats go on while the
	// stop persists the progress, and only then does the worker leave.
	defer fl.leave()
	g.Go(func() error { return fl.member.Run(gctx, fl.tgtCl) })
	fl.ready.Store(true)
	defer fl.ready.Store(false)
	g.Go(func() error { return fl.every(gctx, FlushInterval, "persisting progress", fl.flush) })
	g.Go(func() error { return fl.discoveryLoop(gctx) })
	if fl.cfg.SyncTopicConfigs {
		g.Go(func() error {
			return fl.syncLoop(gctx, fl.cfg.SyncTopicConfigsInterval, "topic config sync", fl.syncConfigs)
		})
	}
	if fl.cfg.SyncTopicACLs {
		g.Go(func() error { return fl.syncLoop(gctx, fl.cfg.SyncTopicACLsInterval, "topic ACL sync", fl.syncACLs) })
	}
	// A task blocked handing a record to a full producer (the target is
	// down) would hold the stop forever: past StopTimeout, closing the
	// producer releases it; what was not acknowledged is copied again.
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-gctx.Done():
			select {
			case <-done:
			case <-time.After(StopTimeout):
				fl.log.Error("stopping took too long; abandoning unacknowledged records, they will be copied again")
				fl.producer.Close()
			}
		}
	}()
	err := g.Wait()
	close(done)
	if cause := context.Cause(ctx); parent.Err() == nil && cause != nil && err == nil {
		err = cause // a partition failed while its task was idle
	}
	return errors.Join(err, fl.stop())
}

func (fl *Flow) open(ctx context.Context) error {
	var err error
	if fl.srcCl, err = kgo.NewClient(append(cluster.Options(fl.src, fl.log), cluster.ConsumerOptions(fl.cfg.Consumer)...)...); err != nil {
		return fmt.Errorf("source client: %w", err)
	}
	if fl.tgtCl, err = kgo.NewClient(cluster.Options(fl.tgt, fl.log)...); err != nil {
		return fmt.Errorf("target client: %w", err)
	}
	fl.srcAdm, fl.tgtAdm = kadm.NewClient(fl.srcCl), kadm.NewClient(fl.tgtCl)
	popts := append(cluster.Options(fl.tgt, fl.log), cluster.ProducerOptions(fl.cfg.Producer)...)
	popts = append(popts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if fl.producer, err = kgo.NewClient(popts...); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	syncs := fl.tgtCl
	if at, _ := fl.cfg.OffsetSyncs(); at == fl.src.Alias {
		syncs = fl.srcCl
	}
	fl.store = progress.NewStore(fl.cfg, syncs, fl.tgtCl)
	cache, err := progress.NewCache(fl.cfg, fl.src, fl.tgt, fl.log)
	if err != nil {
		return err
	}
	fl.mu.Lock()
	fl.cache = cache
	fl.mu.Unlock()
	md, err := fl.srcAdm.BrokerMetadata(ctx)
	if err != nil {
		return cluster.Explain(fl.src, err)
	}
	fl.clusterID = md.Cluster
	return fl.store.Ensure(ctx)
}

// refresh discovers topics and partitions and starts copying new ones.
func (fl *Flow) refresh(ctx context.Context) error {
	sel, err := Discover(ctx, fl.srcAdm, fl.selection())
	if err != nil {
		return err
	}
	if err := fl.releaseUnselected(ctx); err != nil {
		return err
	}
	ready, blocked, err := syncTargetTopics(ctx, fl.srcAdm, fl.tgtAdm, fl.cfg, sel.Topics)
	if err != nil {
		return err
	}
	fl.mu.Lock()
	for topic := range fl.recreated {
		blocked = append(blocked, Blocked{topic, recreatedReason})
	}
	old := fl.blocked
	fl.blocked = blocked
	fl.mu.Unlock()
	for _, b := range blocked {
		if !slices.Contains(old, b) {
			fl.log.Error("topic not copied", "topic", b.Topic, "reason", b.Reason)
		}
	}
	// What is ready is shared out by the workers' group: a change asks
	// for a rebalance, which moves nothing else.
	avail := make(map[string]Topic, len(ready))
	fl.mu.Lock()
	changed := len(ready) != len(fl.avail)
	for _, t := range ready {
		if old, ok := fl.avail[t.Source]; !ok || old.Partitions != t.Partitions {
			changed = true
		}
		avail[t.Source] = t
	}
	fl.avail = avail
	fl.mu.Unlock()
	if changed {
		fl.member.Rejoin()
	}
	return nil
}

// awaitProducerMetadata waits until the producer knows the target
// partitions it is about to write: franz-go refuses a record for a
// partition its metadata does not have yet, as after the target topic grew.
func (fl *Flow) awaitProducerMetadata(ctx context.Context, parts []*partition) error {
	deadline := time.Now().Add(30 * time.Second)
	for refreshed := false; ; refreshed = true {
		var missing *partition
		for _, p := range parts {
			// A topic the producer never wrote is loaded whole on its
			// first record; only known topics can be stale.
			if leader, _, _ := fl.producer.PartitionLeader(p.target, 0); leader < 0 {
				continue
			}
			if leader, _, _ := fl.producer.PartitionLeader(p.target, p.key.Partition); leader < 0 {
				missing = p
				break
			}
		}
		if missing == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the producer does not see partition %d of target topic %q yet", missing.key.Partition, missing.target)
		}
		if !refreshed {
			fl.producer.ForceMetadataRefresh()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
			fl.producer.ForceMetadataRefresh()
		}
	}
}

// load builds the state of new partitions: from the stored progress and
// offset syncs when there are any, else from where MirrorMaker 2 left them
// when it copied them, else from the start position. A dry run (a plan)
// takes over even while MM2 runs, and writes nothing either way.
func (fl *Flow) load(ctx context.Context, topics []Topic, keys []progress.Partition, dryRun bool) ([]*partition, []TakenOver, error) {
	stored, histories, err := fl.cache.Read(ctx, 0)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]Topic{}
	var names []string
	for _, t := range topics {
		byName[t.Source] = t
		names = append(names, t.Source)
	}
	srcStarts, err := fl.srcAdm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, nil, fmt.Errorf("list source offsets: %w", err)
	}
	srcEnds, err := fl.srcAdm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, nil, fmt.Errorf("list source offsets: %w", err)
	}
	tgtEnds, err := endOffsets(ctx, fl.tgtAdm, topics)
	if err != nil {
		return nil, nil, fmt.Errorf("list target offsets: %w", err)
	}
	// Partitions kmirror never copied may have been MM2's.
	mm2s := mm2State{syncs: maps.Clone(histories), elsewhere: map[progress.Partition]bool{}}
	if slices.ContainsFunc(keys, func(k progress.Partition) bool { _, ok := stored[k]; return !ok }) {
		if mm2s.next, mm2s.topic, err = fl.readMM2Positions(ctx); err != nil {
			return nil, nil, err
		}
		if err := fl.readMM2SyncsElsewhere(ctx, &mm2s); err != nil {
			return nil, nil, err
		}
	}
	var out []*partition
	var crashed []resumeFrom
	var fromMM2 []progress.Partition
	for _, k := range keys {
		t := byName[k.Topic]
		if p, ok := stored[k]; ok {
			if p.ClusterID != fl.clusterID {
				return nil, nil, errFatal{fmt.Errorf("the progress of %s[%d] on %q was written for source cluster %s, but %q is cluster %s: is this the right source?",
					k.Topic, k.Partition, fl.cfg.Target, p.ClusterID, fl.cfg.Source, fl.clusterID)}
			}
			if p.TopicID != t.ID {
				fl.mu.Lock()
				if !fl.recreated[k.Topic] {
					fl.recreated[k.Topic] = true
					fl.log.Error(recreatedReason, "topic", k.Topic)
				}
				fl.mu.Unlock()
				continue
			}
			part := newPartition(k, t.Target, t.ID, p.Map)
			part.mm2 = p.MM2
			out = append(out, part)
			// Without the target's end, records a previous owner copied
			// past the stored progress would go unseen and be copied
			// again: the start is retried instead (a leader frozen or
			// just moved does not answer).
			tend, tok := tgtEnds.Lookup(t.Target, k.Partition)
			send, sok := srcEnds.Lookup(k.Topic, k.Partition)
			if !tok || tend.Err != nil || !sok || send.Err != nil {
				return nil, nil, fmt.Errorf("end offsets of %s[%d] and target %s[%d]: not available (%v, %v)", k.Topic, k.Partition, t.Target, k.Partition, send.Err, tend.Err)
			}
			if tend.Offset > p.Map.End().Target {
				crashed = append(crashed, resumeFrom{p: part, from: p.Map.End().Target, tgtEnd: tend.Offset, srcEnd: send.Offset})
			}
			continue
		}
		if mm2s.takenOver(k) {
			fromMM2 = append(fromMM2, k)
			continue
		}
		start, ok := srcStarts.Lookup(k.Topic, k.Partition)
		if !ok || start.Err != nil {
			return nil, nil, fmt.Errorf("start offset of %s[%d]: %v", k.Topic, k.Partition, start.Err)
		}
		from := start.Offset
		if fl.cfg.Consumer.StartAt == "latest" {
			if end, ok := srcEnds.Lookup(k.Topic, k.Partition); ok && end.Err == nil {
				from = end.Offset
			}
		}
		tend, ok := tgtEnds.Lookup(t.Target, k.Partition)
		if !ok || tend.Err != nil {
			return nil, nil, fmt.Errorf("end offset of target %s[%d]: not available (%v)", t.Target, k.Partition, tend.Err)
		}
		p := newPartition(k, t.Target, t.ID, offsetmap.New(from, tend.Offset))
		p.dirty = true
		out = append(out, p)
	}
	taken, reports, err := fl.takeOver(ctx, mm2s, fromMM2, byName, srcStarts, srcEnds, tgtEnds, dryRun)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, taken...)
	matched, err := fl.resume(ctx, crashed)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range crashed {
		log := fl.log.With("topic", r.p.key.Topic, "partition", r.p.key.Partition)
		n, past := matched[r.p.key], r.tgtEnd-r.from
		if n > 0 {
			log.Info("resumed after the records a previous worker copied but did not persist; none is copied twice", "records", n)
		}
		if int64(n) < past {
			log.Warn("the target holds records past the stored progress that are not (or, past the first 100000, not checked to be) the source's next ones; copying resumes after the last match",
				"matched", n, "past_progress", past)
		}
	}
	return out, reports, nil
}

// endOffsets lists the end offsets of target topics, waiting briefly for
// topics just created or grown to show all their partitions.
func endOffsets(ctx context.Context, adm *kadm.Client, topics []Topic) (kadm.ListedOffsets, error) {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Target
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(ctx, names...)
		complete := err == nil
		for _, t := range topics {
			for p := range t.Partitions {
				if o, ok := ends.Lookup(t.Target, p); !ok || o.Err != nil {
					complete = false
				}
			}
		}
		if complete || time.Now().After(deadline) {
			return ends, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

const recreatedReason = "the source topic was deleted and created again since it was mirrored; not copying it on top of the old copy: delete its records from the progress topic to start over"

// assign spreads new partitions over the tasks: the first ones round-robin
// in (topic, partition) order as MM2 does, later ones to the task with the
// fewest, so that no running partition moves.
func (fl *Flow) assign(parts []*partition) error {
	slices.SortFunc(parts, func(a, b *partition) int {
		if c := cmpString(a.key.Topic, b.key.Topic); c != 0 {
			return c
		}
		return int(a.key.Partition - b.key.Partition)
	})
	fl.mu.Lock()
	defer fl.mu.Unlock()
	want := min(fl.cfg.TasksMax, len(fl.parts)+len(parts))
	started := len(fl.tasks)
	for len(fl.tasks) < want {
		t, err := newTask(len(fl.tasks), append(cluster.Options(fl.src, fl.log), cluster.ConsumerOptions(fl.cfg.Consumer)...), fl.producer, fl.log)
		if err != nil {
			return err
		}
		t.outOfRange, t.throttle, t.valid = fl.outOfRange, fl.throttle, fl.member.Valid
		fl.tasks = append(fl.tasks, t)
	}
	batches := make([][]*partition, len(fl.tasks))
	for _, p := range parts {
		best := 0
		for i, t := range fl.tasks {
			if len(t.parts)+len(batches[i]) < len(fl.tasks[best].parts)+len(batches[best]) {
				best = i
			}
		}
		batches[best] = append(batches[best], p)
		p.fail = fl.fail
		p.metrics = fl.metrics.partition(fl.cfg.Source, fl.cfg.Target, p.key.Topic)
		fl.parts[p.key] = p
	}
	for i, b := range batches {
		if len(b) > 0 {
			fl.tasks[i].add(b)
		}
	}
	if fl.spawn != nil {
		for _, t := range fl.tasks[started:] {
			fl.spawn(t)
		}
	}
	return nil
}

// every runs fn on each tick of interval until ctx ends; a failed run is
// logged and tried again on the next tick.
func (fl *Flow) every(ctx context.Context, interval time.Duration, what string, fn func(context.Context) error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			fl.log.Warn(what+" failed; retrying", "err", err)
		}
	}
}

// rediscover refreshes the topics, unless refresh.topics.enabled=false
// froze the set, and forgets what the source deleted.
func (fl *Flow) rediscover(ctx context.Context) error {
	var err error
	if fl.cfg.RefreshTopics {
		err = fl.refresh(ctx)
	}
	return errors.Join(err, fl.truncate(ctx))
}

// truncate drops the offset-map segments that lie wholly below the source
// log start: no committed offset there can be translated any more.
func (fl *Flow) truncate(ctx context.Context) error {
	fl.mu.Lock()
	byTopic := map[string][]*partition{}
	for _, p := range fl.parts {
		byTopic[p.key.Topic] = append(byTopic[p.key.Topic], p)
	}
	fl.mu.Unlock()
	if len(byTopic) == 0 {
		return nil
	}
	topics := make([]string, 0, len(byTopic))
	for t := range byTopic {
		topics = append(topics, t)
	}
	starts, err := fl.srcAdm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return err
	}
	for t, ps := range byTopic {
		for _, p := range ps {
			if o, ok := starts.Lookup(t, p.key.Partition); ok && o.Err == nil {
				p.truncate(o.Offset)
			}
		}
	}
	return nil
}

// flush persists what changed: the offset syncs, then the progress they
// cover.
func (fl *Flow) flush(ctx context.Context) error {
	fl.mu.Lock()
	parts := make([]*partition, 0, len(fl.parts))
	for _, p := range fl.parts {
		parts = append(parts, p)
	}
	fl.mu.Unlock()
	var taken []*partition
	var items []progress.Pending
	for _, p := range parts {
		it := p.pending(fl.clusterID)
		if !it.Empty() {
			taken, items = append(taken, p), append(items, it)
		}
	}
	if len(items) == 0 {
		return nil
	}
	// A worker that can no longer prove it owns its partitions must not
	// write their progress over their next owner's.
	if !fl.member.Valid() {
		for i, p := range taken {
			p.unpersisted(items[i])
		}
		return errors.New("not persisting progress: this worker's membership is not confirmed")
	}
	syncsWritten, err := fl.store.Flush(ctx, fl.Worker(), items)
	if err != nil {
		for i, p := range taken {
			if syncsWritten { // only the progress is to be written again
				items[i].Segments, items[i].Deletes = nil, nil
			}
			p.unpersisted(items[i])
		}
	}
	return err
}

// stop finishes a run: every produced record acknowledged, the last
// progress persisted, within StopTimeout.
func (fl *Flow) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	fl.mu.Lock()
	for _, t := range fl.tasks {
		t.close()
	}
	fl.mu.Unlock()
	if err := fl.producer.Flush(ctx); err != nil {
		return fmt.Errorf("flush the producer: %w", err)
	}
	if err := fl.flush(ctx); err != nil {
		return err
	}
	fl.log.Info("stopped; progress persisted")
	return nil
}

// leave leaves the workers' group once the progress is persisted, so that
// the others take the partitions over without waiting for the session
// timeout.
func (fl *Flow) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fl.member.Leave(ctx); err != nil {
		fl.log.Warn("the other workers take over after the session timeout", "err", err)
	}
}

func (fl *Flow) close() {
	for _, c := range []*kgo.Client{fl.producer, fl.srcCl, fl.tgtCl} {
		if c != nil {
			c.Close()
		}
	}
	if fl.cache != nil {
		fl.cache.Close()
	}
}

// outOfRange handles a partition whose next offset the source no longer
// holds. Retention overtook the mirror when the log start moved past it:
// with retention.overtaken.policy=skip the copy resumes at the log start
// and the gap is recorded, with stop (the default) the partition stops.
// Either way it is logged as an error and counted. An offset past the
// source's end (a truncated log) always stops the partition.
func (fl *Flow) outOfRange(ctx context.Context, p *partition) (int64, bool) {
	next := p.end().Source
	starts, err := fl.srcAdm.ListStartOffsets(ctx, p.key.Topic)
	start, ok := starts.Lookup(p.key.Topic, p.key.Partition)
	if err != nil || !ok || start.Err != nil {
		fl.log.Warn("offset out of range; cannot read the source log start, retrying", "topic", p.key.Topic, "partition", p.key.Partition, "err", errors.Join(err, start.Err))
		return next, true
	}
	log := fl.log.With("topic", p.key.Topic, "partition", p.key.Partition, "next_offset", next, "source_log_start", start.Offset)
	if start.Offset <= next {
		log.Error(progress.ReasonTruncated)
		p.stop(progress.ReasonTruncated)
		return 0, false
	}
	fl.overtaken.Add(1)
	if fl.cfg.OvertakenPolicy == "skip" {
		g := p.skipTo(start.Offset)
		fl.lost.Add(g.To - g.From)
		fl.metrics.gaps.WithLabelValues(fl.cfg.Source, fl.cfg.Target, p.key.Topic).Inc()
		fl.metrics.lost.WithLabelValues(fl.cfg.Source, fl.cfg.Target, p.key.Topic).Add(float64(g.To - g.From))
		log.Error("the source deleted records before they were copied; skipping them (retention.overtaken.policy=skip)", "lost_from", g.From, "lost_to", g.To)
		return start.Offset, true
	}
	reason := progress.ReasonOvertaken(next, start.Offset)
	log.Error(reason)
	p.stop(reason)
	return 0, false
}

// PartitionStatus is how one source partition is being copied.
type PartitionStatus struct {
	Topic, Target string
	Partition     int32
	// Start is the first source offset the offset map covers; Next the
	// next source offset to copy.
	Start, Next int64
	Stopped     string
	Gaps        []Gap
	// Segments is the number of segments of the offset map.
	Segments int
}

// Status returns the state of every partition, sorted, and the counts of
// overtaken partitions and of source offsets lost to retention.
func (fl *Flow) Status() (parts []PartitionStatus, overtaken, lost int64) {
	fl.mu.Lock()
	for _, p := range fl.parts {
		p.mu.Lock()
		parts = append(parts, PartitionStatus{Topic: p.key.Topic, Target: p.target, Partition: p.key.Partition,
			Start: p.m.Start(), Next: p.m.End().Source, Stopped: p.stopped, Gaps: slices.Clone(p.gaps),
			Segments: len(p.m.Segments())})
		p.mu.Unlock()
	}
	fl.mu.Unlock()
	slices.SortFunc(parts, func(a, b PartitionStatus) int {
		if c := cmpString(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return parts, fl.overtaken.Load(), fl.lost.Load()
}

// Blocked returns the selected topics that cannot be copied, and why.
func (fl *Flow) Blocked() []Blocked {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return slices.Clone(fl.blocked)
}

// Copied implements progress.View for the partitions this worker copies;
// ok is false for the others. It reads nothing from the clusters.
func (fl *Flow) Copied(_ context.Context, tp progress.Partition) (progress.Copied, bool, error) {
	fl.mu.Lock()
	p := fl.parts[tp]
	fl.mu.Unlock()
	if p == nil {
		return progress.Copied{}, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return progress.Copied{Start: p.m.Start(), Next: p.m.End().Source, Stopped: p.stopped}, true, nil
}

// Saved reads what the flow's workers persisted (the partitions other
// workers copy included), catching up with what was written since the
// last read.
func (fl *Flow) Saved(ctx context.Context) (progress.Snapshot, error) {
	fl.mu.Lock()
	c := fl.cache
	fl.mu.Unlock()
	if c == nil {
		return nil, errors.New("the flow has not started")
	}
	s, _, err := c.Read(ctx, 0)
	return s, err
}

// Tasks is the number of tasks the flow runs.
func (fl *Flow) Tasks() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return len(fl.tasks)
}

// Translate implements progress.View for the partitions this worker
// copies; ok is false for the others. It reads nothing from the clusters.
func (fl *Flow) Translate(_ context.Context, tp progress.Partition, g int64) (progress.Translation, bool, error) {
	fl.mu.Lock()
	p := fl.parts[tp]
	fl.mu.Unlock()
	if p == nil {
		return progress.Translation{}, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tr := progress.Translate(p.m, p.mm2, g)
	tr.Target = p.target
	return tr, true, nil
}
