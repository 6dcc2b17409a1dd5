package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/workgroup"
	"github.com/twmb/franz-go/pkg/kgo"
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

// Flow copies the topics of one configured flow. It holds what lasts
// across runs — the settings, the worker's place in its workers' group and
// the topic catalogue (catalogue.go) — and, while Run runs, the run: the
// clients (conn.go), the starter that builds partitions from their
// progress or from MirrorMaker 2 (load.go, takeover.go, resume.go), the
// copier with its tasks and partitions (copier.go, task.go), shared out by
// the group (share.go), and in exactly-once mode the slots (slot.go). Each
// part is complete when made and has its own lock.
type Flow struct {
	cfg      *config.Flow
	src, tgt *config.Cluster
	// pair is the flow the other way under the same names, or nil.
	pair    *config.Flow
	log     *slog.Logger
	metrics *Metrics
	// member is the flow's place in its workers' group: it copies only
	// what the group gives it, and only while the group confirms it.
	member *workgroup.Member
	// throttle paces all the flow's tasks; nil when there is no cap.
	throttle *rate.Limiter
	cat      *catalogue
	// ready is set once the flow's tasks copy.
	ready atomic.Bool
	// run is the run under way, nil before Run opened it and after it
	// ended.
	run atomic.Pointer[run]
}

// run is one Run of a flow: what it opened, complete before the workers'
// group can give the worker anything to copy, and never changed.
type run struct {
	*Flow
	*conn
	// store persists the progress and offset map.
	store   *progress.Store
	starter *starter
	copier  *copier
	slots   *slotSet
	// pairMaps follows the pair's progress, nil without a pair.
	pairMaps *pairMaps
	// retention decides for the tasks what follows when the source's
	// retention overtook a partition, and counts it.
	retention *retention
	// fail stops the run with the first partition failure.
	fail func(error)
}

// NewFlow prepares a flow; nothing connects until Run. pair is the flow
// that copies the other way under the same topic names
// (config.Config.SameNamePair), or nil: its copies on f's source are not
// copied back. The flow counts into metrics; nil counts into a set of its
// own.
func NewFlow(f *config.Flow, src, tgt *config.Cluster, pair *config.Flow, logger *slog.Logger, metrics *Metrics) *Flow {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	fl := &Flow{cfg: f, src: src, tgt: tgt, pair: pair, log: logger.With("component", "mirror", "flow", f.Name()),
		metrics: metrics, cat: newCatalogue(f)}
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
	g, gctx := errgroup.WithContext(ctx)
	spawn := func(t *task) { g.Go(func() error { return t.run(gctx) }) }
	r, err := fl.open(ctx, func(err error) { cancel(err) }, spawn)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	fl.run.Store(r)
	defer r.close()
	if err := r.refresh(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	// The membership outlives the copying: heartbeats go on while the
	// stop persists the progress, and only then does the worker leave.
	defer fl.leave()
	g.Go(func() error { return fl.member.Run(gctx, r.tgtCl) })
	fl.ready.Store(true)
	defer fl.ready.Store(false)
	if fl.cfg.ExactlyOnce {
		g.Go(func() error {
			return fl.every(gctx, fl.cfg.TransactionInterval, "committing transactions", r.commitAll)
		})
	} else {
		g.Go(func() error { return fl.every(gctx, FlushInterval, "persisting progress", r.flush) })
	}
	g.Go(func() error { return r.discoveryLoop(gctx) })
	if fl.cfg.SyncTopicConfigs {
		g.Go(func() error {
			return r.syncLoop(gctx, fl.cfg.SyncTopicConfigsInterval, "topic config sync", r.syncConfigs)
		})
	}
	if fl.cfg.SyncTopicACLs {
		g.Go(func() error { return r.syncLoop(gctx, fl.cfg.SyncTopicACLsInterval, "topic ACL sync", r.syncACLs) })
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
				r.closeProducers()
			}
		}
	}()
	err = g.Wait()
	close(done)
	if cause := context.Cause(ctx); parent.Err() == nil && cause != nil && err == nil {
		err = cause // a partition failed while its task was idle
	}
	return errors.Join(err, r.stop())
}

// open makes the run: it connects, and makes the store, the starter and
// the copier. fail stops the run; spawn starts a task in it.
func (fl *Flow) open(ctx context.Context, fail func(error), spawn func(*task)) (_ *run, err error) {
	r := &run{Flow: fl, fail: fail, slots: newSlotSet()}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.conn, err = dial(ctx, fl.cfg, fl.src, fl.tgt, !fl.cfg.ExactlyOnce, fl.log); err != nil {
		return nil, err
	}
	fl.metrics.flow(fl.cfg.Source, fl.cfg.Target)
	syncs := r.tgtCl
	if at, _ := fl.cfg.OffsetSyncs(); at == fl.src.Alias {
		syncs = r.srcCl
	}
	r.store = progress.NewStore(fl.cfg, syncs, r.tgtCl)
	if fl.pair != nil {
		// The pair's progress lives on its target, this flow's source.
		if r.pairMaps, err = followPair(fl.pair, fl.tgt, fl.src, !fl.cfg.ProvenanceHeader, fl.log); err != nil {
			return nil, err
		}
	}
	cache, err := progress.NewCache(fl.cfg, fl.src, fl.tgt, fl.log)
	if err != nil {
		return nil, err
	}
	r.starter = &starter{conn: r.conn, cfg: fl.cfg, src: fl.src, tgt: fl.tgt, log: fl.log, cache: cache, store: r.store,
		cat: fl.cat, fail: fail, metrics: fl.metrics, skips: fl.pair != nil || fl.cfg.ProvenanceHeader}
	r.retention = &retention{src: r.srcAdm, cfg: fl.cfg, log: fl.log, metrics: fl.metrics}
	r.copier = newCopier(fl.cfg.TasksMax, taskDeps{
		cfg:    fl.cfg,
		client: func() (*kgo.Client, error) { return kgo.NewClient(cluster.Options(fl.src, fl.log)...) },
		lookup: r.srcCl,
		out:    r.out, log: fl.log, retention: r.retention, throttle: fl.throttle, valid: fl.member.Valid, pairMaps: r.pairMaps,
	}, spawn)
	return r, r.store.Ensure(ctx)
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
func (r *run) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	r.copier.closeTasks()
	if r.cfg.ExactlyOnce {
		if err := r.stopSlots(ctx); err != nil {
			return err
		}
		r.log.Info("stopped; the last transactions committed")
		return nil
	}
	if err := r.out.Flush(ctx); err != nil {
		return fmt.Errorf("flush the producer: %w", err)
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	r.log.Info("stopped; progress persisted")
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
func (r *run) closeProducers() {
	r.closeProducer()
	for _, s := range r.slots.list() {
		s.producer.Close()
	}
}

// close closes what the run opened; the flow no longer reports it.
func (r *run) close() {
	r.Flow.run.CompareAndSwap(r, nil)
	if r.conn != nil {
		r.closeProducers()
		r.conn.close()
	}
	if r.starter != nil {
		r.starter.cache.Close()
	}
	if r.pairMaps != nil {
		r.pairMaps.close()
	}
}
