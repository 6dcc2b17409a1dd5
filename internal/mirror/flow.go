package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/policy"
	"github.com/kmirror/kmirror/internal/progress"
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

// Flow copies the topics of one configured flow. It wires three parts:
// the topic catalogue (refresh.go: what package discover selects and
// makes ready on the target), the copier (tasks and partitions, shared out by the
// workers' group in share.go), and the progress store (package progress,
// persisted in persist.go, loaded in load.go).
type Flow struct {
	// Made by NewFlow.
	cfg      *config.Flow
	src, tgt *config.Cluster
	// paired is the flow the other way under the same names, or nil.
	paired  *config.Flow
	log     *slog.Logger
	metrics *Metrics
	// member is the flow's place in its workers' group: it copies only
	// what the group gives it, and only while the group confirms it.
	member *workgroup.Member
	// throttle paces all the flow's tasks; nil when there is no cap.
	throttle *rate.Limiter
	// filter selects the topics; Reconfigure changes it (under mu), and
	// kick asks the discovery loop to apply it at once.
	filter policy.Filter
	kick   chan struct{}
	// ready is set once the flow's tasks copy.
	ready atomic.Bool

	// Made by Run (open) for the run, before the workers' group can give
	// the worker anything to copy.
	srcAdm, tgtAdm *kadm.Client
	srcCl, tgtCl   *kgo.Client
	producer       *kgo.Client
	// clusterID and targetID are the source and target clusters' ids.
	clusterID, targetID string
	// store persists the progress and offset map; cache reads them back
	// (what the workers persisted) when partitions are assigned.
	store *progress.Store
	// fail stops the run with the first partition failure.
	fail func(error)

	mu sync.Mutex
	// cache and retention are made by open, spawn by Run, under mu: the
	// status may ask before the run opened. spawn starts a task in the
	// run's group of goroutines.
	cache *progress.Cache
	// peer follows the paired flow's progress, made by open when there is
	// one; the tasks and the views read it under mu.
	peer  *peer
	spawn func(*task)
	// retention decides for the tasks what follows when the source's
	// retention overtook a partition, and counts it.
	retention *retention
	// avail are the topics ready to copy, by source name: what the group
	// shares out. parts are the partitions this worker copies.
	avail   map[string]discover.Topic
	parts   map[progress.Partition]*partition
	tasks   []*task
	blocked []discover.Blocked
	// recreated holds source topics whose id differs from the one their
	// progress names, reported once and not copied.
	recreated map[string]bool

	// In exactly-once mode (slot.go), owned are the slots the group gave
	// this worker and slots those open, under mu; slotMu orders the
	// slots' opening, commits and closing.
	slotMu sync.Mutex
	owned  map[int32]bool
	slots  map[int32]*slot
	// grow says the selection grew since the open slots last started
	// their new partitions.
	grow atomic.Bool
}

// NewFlow prepares a flow; nothing connects until Run. paired is the flow
// that copies the other way under the same topic names
// (config.Config.Paired), or nil: its copies on f's source are not copied
// back.
func NewFlow(f *config.Flow, src, tgt *config.Cluster, paired *config.Flow, logger *slog.Logger) *Flow {
	fl := &Flow{cfg: f, src: src, tgt: tgt, paired: paired, log: logger.With("component", "mirror", "flow", f.Name()),
		parts: map[progress.Partition]*partition{}, recreated: map[string]bool{}, owned: map[int32]bool{}, slots: map[int32]*slot{},
		metrics: NewMetrics(nil), filter: policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}, kick: make(chan struct{}, 1)}
	opts := workgroup.Options{Group: workgroup.Name(f.Source, f.Target),
		SessionTimeout: f.SessionTimeout, HeartbeatInterval: f.HeartbeatInterval, RebalanceTimeout: f.RebalanceTimeout}
	if f.ExactlyOnce {
		// Workers that share slots never share a group with workers that
		// share partitions, nor with workers that count other slots: a
		// partition would then be in two slots, written under two
		// transactional ids that do not fence each other.
		opts.Protocol, opts.Unit = fmt.Sprintf("kmirror-slots-%d", f.TransactionSlots), "slots"
	}
	fl.member = workgroup.New(opts, sharing{fl}, fl.log)
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
	if fl.cfg.ExactlyOnce {
		g.Go(func() error {
			return fl.every(gctx, fl.cfg.TransactionInterval, "committing transactions", fl.commitAll)
		})
	} else {
		g.Go(func() error { return fl.every(gctx, FlushInterval, "persisting progress", fl.flush) })
	}
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
				fl.closeProducers()
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
	fl.metrics.flow(fl.cfg.Source, fl.cfg.Target)
	if !fl.cfg.ExactlyOnce { // else each slot has its producer
		popts := append(cluster.Options(fl.tgt, fl.log), cluster.ProducerOptions(fl.cfg.Producer)...)
		popts = append(popts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if fl.producer, err = kgo.NewClient(popts...); err != nil {
			return fmt.Errorf("producer: %w", err)
		}
	}
	syncs := fl.tgtCl
	if at, _ := fl.cfg.OffsetSyncs(); at == fl.src.Alias {
		syncs = fl.srcCl
	}
	fl.store = progress.NewStore(fl.cfg, syncs, fl.tgtCl)
	if fl.paired != nil {
		// The peer's progress lives on its target, this flow's source.
		pe, err := newPeer(fl.paired, fl.tgt, fl.src, !fl.cfg.ProvenanceHeader, fl.log)
		if err != nil {
			return err
		}
		fl.mu.Lock()
		fl.peer = pe
		fl.mu.Unlock()
	}
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
	if fl.cfg.ProvenanceHeader {
		tmd, err := fl.tgtAdm.BrokerMetadata(ctx)
		if err != nil {
			return cluster.Explain(fl.tgt, err)
		}
		fl.targetID = tmd.Cluster
	}
	fl.mu.Lock()
	fl.retention = &retention{src: fl.srcAdm, cfg: fl.cfg, log: fl.log, metrics: fl.metrics}
	fl.mu.Unlock()
	return fl.store.Ensure(ctx)
}

// moveLegacyMap moves the exact offset map an older kmirror kept in the
// offset-syncs topic, as the cache last read it, to the map's own topic,
// so that the offset-syncs topic holds MM2's format alone, and says what
// it did. It runs after a read of the cache, not when the flow opens: in
// exactly-once mode a read waits for open transactions, which only the
// slots' fencing ends.
func (fl *Flow) moveLegacyMap(ctx context.Context) error {
	legacy := fl.cache.Legacy()
	if len(legacy) == 0 {
		return nil
	}
	n, err := fl.store.MoveLegacy(ctx, legacy)
	if err != nil {
		return err
	}
	at, syncs := fl.cfg.OffsetSyncs()
	fl.log.Info("moved the exact offset map out of the offset-syncs topic, which MirrorMaker 2 reads, into a topic of its own; "+
		"MM2 can read the offset-syncs topic again once compaction has removed the moved records' tombstones "+
		"(delete.retention.ms after they are compacted), or at once if it is deleted with every worker stopped (kmirror makes it again)",
		"segments", n, "partitions", len(legacy), "from", syncs, "on", at, "to", fl.cfg.OffsetMapTopic())
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
	if fl.cfg.ExactlyOnce {
		if err := fl.stopSlots(ctx); err != nil {
			return err
		}
		fl.log.Info("stopped; the last transactions committed")
		return nil
	}
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

// closeProducers closes the producers, failing what they still hold.
func (fl *Flow) closeProducers() {
	if fl.producer != nil {
		fl.producer.Close()
	}
	for _, s := range fl.openSlots() {
		s.producer.Close()
	}
}

func (fl *Flow) close() {
	fl.closeProducers()
	for _, c := range []*kgo.Client{fl.srcCl, fl.tgtCl} {
		if c != nil {
			c.Close()
		}
	}
	fl.mu.Lock()
	c := fl.cache
	fl.cache = nil
	fl.mu.Unlock()
	if c != nil {
		c.Close()
	}
	fl.mu.Lock()
	pe := fl.peer
	fl.peer = nil
	fl.mu.Unlock()
	if pe != nil {
		pe.close()
	}
}
