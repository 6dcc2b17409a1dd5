// Package app is kmirror's lifecycle: it starts what a configuration asks
// for, runs it until the context ends, and stops it cleanly.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/heartbeat"
	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/status"
)

// StatusInterval is how often a running worker refreshes its status report
// (served by the HTTP API and behind the lag metrics), at most: a refresh
// that takes longer than a StatusShare of it puts the next one off, so
// that a worker of many partitions and groups spends no more than that
// share of its time on its report.
const StatusInterval = 2 * time.Second

// StatusShare is the share of a worker's time its status refreshes may
// take: the next refresh begins StatusInterval after the last began, or
// StatusShare times its duration after, whichever is later.
const StatusShare = 20

// App runs every flow of one configuration.
type App struct {
	cfg *config.Config
	// log is the App's own logger; base the one it was given, which the
	// parts it makes name themselves on (component=…, once).
	log, base *slog.Logger
	opts      Options

	registry *prometheus.Registry
	metrics  metrics

	mu        sync.Mutex
	flows     []*flowRun
	report    *status.Report
	collector *status.Collector
	history   *status.History
}

// Options tune an App.
type Options struct {
	// Version and Commit are reported by kmirror_build_info.
	Version, Commit string
	// MetricsPartitions adds a partition label to the lag metrics.
	MetricsPartitions bool
	// MetricsGroups bounds the groups of a flow that have series of
	// their own in the per-group gauges (kmirror_group_switch_ready,
	// kmirror_group_partitions_untranslated): the groups not ready first.
	// 0 is DefaultMetricsGroups; negative is every group.
	MetricsGroups int
	// MaxLag is the lag threshold of the switch verdicts.
	MaxLag time.Duration
	// ConnectTimeout bounds the check of each cluster at start;
	// 0 is cluster.DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// flowRun is what runs for one flow.
type flowRun struct {
	cfg       *config.Flow
	mirror    *mirror.Flow
	syncer    *checkpoint.Syncer
	heartbeat *heartbeat.Emitter
	// reloaded is the latest selection a reload gave the flow, for a
	// syncer that starts after it.
	reloaded *config.Flow
}

// New prepares an App; nothing runs until Run. Its metrics go to a registry
// of its own (Gatherer). The zero Options are the defaults.
func New(cfg *config.Config, logger *slog.Logger, opts Options) *App {
	a := &App{cfg: cfg, log: logger.With("component", "app"), base: logger, opts: opts, registry: prometheus.NewRegistry(), history: status.NewHistory()}
	a.metrics = newMetrics(a)
	return a
}

// Gatherer serves the App's metrics.
func (a *App) Gatherer() prometheus.Gatherer { return a.registry }

// Report returns the latest status report; ok is false before the first.
func (a *App) Report() (status.Report, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.report == nil {
		return status.Report{}, false
	}
	return *a.report, true
}

// Ready tells whether every flow copies; why names those that do not.
func (a *App) Ready() (bool, string) {
	a.mu.Lock()
	runs := append([]*flowRun(nil), a.flows...)
	a.mu.Unlock()
	var waiting []string
	for _, f := range a.cfg.Flows {
		ok := false
		for _, r := range runs {
			if r.cfg == f && r.mirror.Ready() {
				ok = true
			}
		}
		if !ok {
			waiting = append(waiting, f.Name())
		}
	}
	if len(waiting) > 0 {
		return false, "not copying yet: " + strings.Join(waiting, ", ")
	}
	return true, ""
}

// Run connects to every cluster, then copies every flow until ctx ends and
// stops cleanly. A cluster that cannot be reached or authenticated against
// at start-up is fatal, and so is a flow that fails: the error names it.
func (a *App) Run(ctx context.Context) error {
	if err := a.connect(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, f := range a.cfg.Flows {
		src, tgt := a.cfg.Cluster(f.Source), a.cfg.Cluster(f.Target)
		fl := mirror.NewFlow(f, src, tgt, a.cfg.SameNamePair(f), a.base, a.metrics.mirror)
		run := &flowRun{cfg: f, mirror: fl}
		a.mu.Lock()
		a.flows = append(a.flows, run)
		a.mu.Unlock()
		a.log.Info("flow starting", "flow", f.Name(), "topics", f.Topics.String(), "policy", f.Replication.Name())
		g.Go(func() error {
			if err := fl.Run(gctx); err != nil {
				return fmt.Errorf("flow %s: %w", f.Name(), err)
			}
			return nil
		})
		g.Go(func() error {
			srcCl, err := kgo.NewClient(cluster.Options(src, a.base)...)
			if err != nil {
				return err
			}
			defer srcCl.Close()
			tgtCl, err := kgo.NewClient(cluster.Options(tgt, a.base)...)
			if err != nil {
				return err
			}
			defer tgtCl.Close()
			hb := heartbeat.NewEmitter(f, tgtCl, a.base, a.metrics.heartbeat)
			// Made under a.mu, so that a reload lands either in
			// run.reloaded, which the syncer starts from, or in
			// Reload's SetGroups on the syncer: never between.
			a.mu.Lock()
			s := checkpoint.NewSyncer(f, srcCl, tgtCl, fl.View(mirror.Own), a.base,
				checkpoint.Options{Metrics: a.metrics.checkpoint, Groups: run.reloaded})
			run.syncer, run.heartbeat = s, hb
			a.mu.Unlock()
			// Either failing ends the other and the run: a flow without
			// heartbeats or group syncs is not left running silently.
			sg, sctx := errgroup.WithContext(gctx)
			sg.Go(func() error { return s.Run(sctx) })
			sg.Go(func() error { return hb.Run(sctx) })
			if err := sg.Wait(); err != nil {
				return fmt.Errorf("flow %s: %w", f.Name(), err)
			}
			return nil
		})
	}
	g.Go(func() error { return a.refreshStatus(gctx) })
	a.log.Info("running; stop with SIGINT or SIGTERM")
	err := g.Wait()
	a.log.Info("stopped")
	return err
}

// Reload applies what a new configuration changes in the selection of
// topics and groups of the running flows, at once and without touching
// the other flows: a topic no longer selected stops being copied (its
// progress stays stored, so adding it back resumes where it stopped). It
// returns the changes it cannot apply, which need a restart.
func (a *App) Reload(cfg *config.Config) []string {
	a.mu.Lock()
	runs := append([]*flowRun(nil), a.flows...)
	collector := a.collector
	a.mu.Unlock()
	var restart []string
	var flows []*config.Flow
	for _, old := range a.cfg.Flows {
		var nf *config.Flow
		for _, f := range cfg.Flows {
			if f.Name() == old.Name() {
				nf = f
			}
		}
		if nf == nil {
			restart = append(restart, fmt.Sprintf("flow %s was removed", old.Name()))
			flows = append(flows, old)
			continue
		}
		flows = append(flows, nf)
		for _, r := range runs {
			if r.cfg != old {
				continue
			}
			r.mirror.Reconfigure(nf)
			a.mu.Lock()
			r.reloaded = nf
			if r.syncer != nil {
				r.syncer.SetGroups(nf)
			}
			a.mu.Unlock()
		}
		a.log.Info("selection reloaded", "flow", nf.Name(), "topics", nf.Topics.String(), "topics_exclude", nf.TopicsExclude.String(),
			"groups", nf.Groups.String(), "groups_exclude", nf.GroupsExclude.String())
	}
	for _, f := range cfg.Flows {
		if !slices.ContainsFunc(a.cfg.Flows, func(o *config.Flow) bool { return o.Name() == f.Name() }) {
			restart = append(restart, fmt.Sprintf("flow %s was added", f.Name()))
		}
	}
	if collector != nil {
		collector.SetFlows(flows)
	}
	return restart
}

// refreshStatus keeps the status report fresh until ctx ends.
func (a *App) refreshStatus(ctx context.Context) error {
	c, err := status.New(a.cfg, a.base, status.Options{MaxLag: a.opts.MaxLag, Partitions: true, Live: a.live})
	if err != nil {
		return err
	}
	defer c.Close()
	a.mu.Lock()
	a.collector = c
	a.mu.Unlock()
	for {
		began := time.Now()
		r := c.Collect(ctx)
		// A running worker writes to the journal the steps it sees.
		c.Record(ctx, &r, journal.By("kmirror run"))
		if ctx.Err() != nil {
			return nil
		}
		a.mu.Lock()
		a.report = &r
		a.mu.Unlock()
		a.history.Add(r)
		took := time.Since(began)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(StatusInterval, StatusShare*took) - took):
		}
	}
}

// live is what the running flows know, for the status collector.
func (a *App) live(name string) (status.Live, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.flows {
		if r.cfg.Name() != name {
			continue
		}
		l := status.Live{View: r.mirror.View(mirror.All), Blocked: r.mirror.Blocked()}
		if r.heartbeat != nil {
			if at, rtt := r.heartbeat.Last(); !at.IsZero() {
				l.Heartbeat = &status.Heartbeat{Time: at.UTC(), RTTSeconds: rtt.Seconds()}
			}
		}
		return l, true
	}
	return status.Live{}, false
}

// connect checks every cluster at once and reports every failure.
func (a *App) connect(ctx context.Context) error {
	infos, err := cluster.CheckAll(ctx, a.cfg.Clusters, cluster.Connect{Timeout: a.opts.ConnectTimeout, Log: a.log})
	if ctx.Err() != nil {
		return nil
	}
	for i, c := range a.cfg.Clusters {
		if infos[i].Brokers > 0 { // a cluster that answered
			a.log.Info("connected", "cluster", c.Alias, "cluster_id", infos[i].ClusterID, "brokers", infos[i].Brokers)
		}
	}
	return err
}

// HTTP is what the HTTP API serves of the App: its latest status report,
// its readiness and its metrics.
func (a *App) HTTP() httpapi.Options {
	return httpapi.Options{
		Status: func(context.Context) (status.Report, error) {
			r, ok := a.Report()
			if !ok {
				return status.Report{}, errors.New("starting: no status yet")
			}
			return r, nil
		},
		History:  a.history.Snapshot,
		Ready:    a.Ready,
		Gatherer: a.registry,
		Log:      a.base,
	}
}
