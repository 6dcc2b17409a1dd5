// Package app is kmirror's lifecycle: it starts what a configuration asks
// for, runs it until the context ends, and stops it cleanly.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/heartbeat"
	"github.com/kmirror/kmirror/internal/mirror"
)

// ConnectTimeout bounds the first connection to each cluster at start-up.
const ConnectTimeout = 30 * time.Second

// App runs every flow of one configuration.
type App struct {
	cfg *config.Config
	log *slog.Logger

	mu    sync.Mutex
	flows []*flowRun
}

// flowRun is what runs for one flow.
type flowRun struct {
	cfg       *config.Flow
	mirror    *mirror.Flow
	syncer    *checkpoint.Syncer
	heartbeat *heartbeat.Emitter
}

// FlowStatus is the state of one flow: what the status command, the HTTP
// API and the migration checks read.
type FlowStatus struct {
	Name       string
	Partitions []mirror.PartitionStatus
	Blocked    []mirror.Blocked
	// Overtaken counts partitions the source's retention overtook; Lost
	// the source offsets lost with retention.overtaken.policy=skip.
	Overtaken, Lost int64
	Groups          []checkpoint.GroupState
	// Heartbeat is when the last heartbeat was acknowledged, and how long
	// the target took.
	Heartbeat    time.Time
	HeartbeatRTT time.Duration
}

// Status returns the state of every flow that has started.
func (a *App) Status() []FlowStatus {
	a.mu.Lock()
	runs := append([]*flowRun(nil), a.flows...)
	a.mu.Unlock()
	var out []FlowStatus
	for _, r := range runs {
		st := FlowStatus{Name: r.cfg.Name(), Blocked: r.mirror.Blocked()}
		st.Partitions, st.Overtaken, st.Lost = r.mirror.Status()
		if r.syncer != nil {
			st.Groups = r.syncer.Groups()
		}
		if r.heartbeat != nil {
			st.Heartbeat, st.HeartbeatRTT = r.heartbeat.Last()
		}
		out = append(out, st)
	}
	return out
}

// New prepares an App; nothing runs until Run.
func New(cfg *config.Config, logger *slog.Logger) *App {
	return &App{cfg: cfg, log: logger.With("component", "app")}
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
		fl := mirror.NewFlow(f, src, tgt, a.log)
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
			srcCl, err := kgo.NewClient(cluster.Options(src, nil)...)
			if err != nil {
				return err
			}
			defer srcCl.Close()
			tgtCl, err := kgo.NewClient(cluster.Options(tgt, nil)...)
			if err != nil {
				return err
			}
			defer tgtCl.Close()
			s := checkpoint.NewSyncer(f, kadm.NewClient(srcCl), kadm.NewClient(tgtCl), tgtCl, fl, a.log)
			hb := heartbeat.NewEmitter(f, tgtCl, a.log)
			a.mu.Lock()
			run.syncer, run.heartbeat = s, hb
			a.mu.Unlock()
			var sg errgroup.Group
			sg.Go(func() error { return s.Run(gctx) })
			sg.Go(func() error { return hb.Run(gctx) })
			if err := sg.Wait(); err != nil {
				return fmt.Errorf("flow %s: %w", f.Name(), err)
			}
			return nil
		})
	}
	a.log.Info("running; stop with SIGINT or SIGTERM")
	err := g.Wait()
	a.log.Info("stopped")
	return err
}

// connect checks every cluster at once and reports every failure.
func (a *App) connect(ctx context.Context) error {
	errs := make([]error, len(a.cfg.Clusters))
	var g errgroup.Group
	for i, c := range a.cfg.Clusters {
		g.Go(func() error {
			info, err := cluster.Check(ctx, c, ConnectTimeout, nil)
			if err != nil {
				errs[i] = err
				return nil
			}
			a.log.Info("connected", "cluster", c.Alias, "cluster_id", info.ClusterID, "brokers", info.Brokers)
			return nil
		})
	}
	_ = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}
