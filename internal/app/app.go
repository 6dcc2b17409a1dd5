// Package app is kmirror's lifecycle: it starts what a configuration asks
// for, runs it until the context ends, and stops it cleanly.
package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// ConnectTimeout bounds the first connection to each cluster at start-up.
const ConnectTimeout = 30 * time.Second

// App runs every flow of one configuration.
type App struct {
	cfg *config.Config
	log *slog.Logger
}

// New prepares an App; nothing runs until Run.
func New(cfg *config.Config, logger *slog.Logger) *App {
	return &App{cfg: cfg, log: logger.With("component", "app")}
}

// Run connects to every cluster, then runs until ctx ends. A cluster that
// cannot be reached or authenticated against at start-up is fatal: the
// error names it.
func (a *App) Run(ctx context.Context) error {
	if err := a.connect(ctx); err != nil {
		return err
	}
	for _, f := range a.cfg.Flows {
		a.log.Info("flow ready", "flow", f.Name(), "topics", f.Topics.String(), "policy", f.Replication.Name())
	}
	a.log.Info("running; stop with SIGINT or SIGTERM")
	<-ctx.Done()
	a.log.Info("stopping")
	return nil
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
