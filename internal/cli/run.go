package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/app"
	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/status"
)

// RunGCPercent is the garbage collector's target of a worker, unless GOGC
// says otherwise: a new cycle once the heap has grown a quarter past what
// the last one kept, not double (Go's 100). A worker's heap is mostly
// record bytes, which hold no pointers and cost a cycle little, so
// collecting more often costs little CPU and keeps the resident set near
// what the buffers hold.
const RunGCPercent = 25

// tuneGC sets the worker's GC target, unless GOGC is set.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(RunGCPercent)
	}
}

// DefaultHTTPAddr is where run serves HTTP unless told otherwise.
const DefaultHTTPAddr = ":9721"

func runCmd(g *globals) *cobra.Command {
	var cf configFlags
	var cn connectFlags
	var opts app.Options
	var httpAddr, probesAddr, webConfig string
	cmd := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Run every flow of the configuration until SIGINT or SIGTERM (SIGHUP reloads the topic and group selection)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			tuneGC(os.Getenv)
			conn, err := cn.connect(logger)
			if err != nil {
				return err
			}
			opts.ConnectTimeout = conn.Timeout
			for flag, addr := range map[string]string{"--http": httpAddr, "--probes": probesAddr} {
				if addr != "" {
					if err := checkAddr(addr); err != nil {
						return usage(fmt.Errorf("%s: %w", flag, err))
					}
				}
			}
			cfg, err := cf.load()
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			for _, d := range cfg.Warnings() {
				logger.Warn(d.String())
			}
			opts.Version, opts.Commit = build()
			a := app.New(cfg, logger, opts)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if err := httpapi.ValidateWebConfig(webConfig); err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			h := a.HTTP()
			servers := []struct {
				addr      string
				handler   http.Handler
				webConfig string
				what      string
			}{
				{httpAddr, httpapi.Handler(h), webConfig, "/ /metrics /healthz /readyz /api/v1/status /api/v1/history"},
				{probesAddr, httpapi.Probes(h), "", "/healthz /readyz"},
			}
			for _, s := range servers {
				if s.addr == "" {
					continue
				}
				ln, err := httpapi.Listen(s.addr)
				if err != nil {
					return &exitError{code: ExitFailure, err: err}
				}
				logger.Info("serving HTTP", "addr", ln.Addr().String(), "endpoints", s.what, "secured", s.webConfig != "")
				served := make(chan struct{})
				defer func() { cancel(); <-served }()
				go func() {
					defer close(served)
					if err := httpapi.ServeListener(ctx, ln, s.handler, s.webConfig, logger); err != nil {
						logger.Error("HTTP server", "addr", ln.Addr().String(), "err", err)
					}
				}()
			}
			// Listen before anything runs: an unhandled SIGHUP ends the process.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go reloadOnHangup(ctx, hup, &cf, a, logger)
			if err := a.Run(ctx); err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			return nil
		},
	}
	cf.register(cmd)
	cn.register(cmd)
	cmd.Flags().StringVar(&httpAddr, "http", DefaultHTTPAddr, `serve metrics, health, the status API and page on this address ("" turns it off)`)
	cmd.Flags().StringVar(&webConfig, "web-config-file", "", "secure --http with TLS, client certificates or basic auth: a Prometheus exporter-toolkit web configuration file")
	cmd.Flags().StringVar(&webConfig, "web.config.file", "", "the same as --web-config-file, in the Prometheus exporters' spelling")
	cmd.Flags().StringVar(&probesAddr, "probes", "", `also serve /healthz and /readyz alone, plain, on this address: for kubelet probes when --web-config-file asks for credentials ("" off)`)
	cmd.Flags().BoolVar(&opts.MetricsPartitions, "metrics-partitions", false, "add a partition label to the lag metrics")
	cmd.Flags().IntVar(&opts.MetricsGroups, "metrics-groups", app.DefaultMetricsGroups, "per-group gauges for at most this many groups of each flow, those not ready first (-1 every group; 2 series per group)")
	cmd.Flags().DurationVar(&opts.MaxLag, "max-lag", status.DefaultMaxLag, "replication lag under which a consumer group may be switched (status page, metrics)")
	return cmd
}

// reloadOnHangup reads the configuration again on every SIGHUP and applies
// its topic and group selections; a configuration that does not load is
// reported and the running one kept.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, cf *configFlags, a *app.App, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cfg, err := cf.load()
		if err != nil {
			logger.Error("SIGHUP: the configuration does not load; keeping the running one", "err", err)
			continue
		}
		logger.Info("SIGHUP: configuration reloaded", "file", cf.path)
		for _, change := range a.Reload(cfg) {
			logger.Warn("SIGHUP: this change takes effect only on restart", "change", change)
		}
	}
}

// checkAddr tells a listen address that cannot be one ("nonsense",
// "host:abc"), a usage error, from one that cannot be had now (a port in
// use), which is not.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return fmt.Errorf("listen address %q: %w: give HOST:PORT or :PORT", addr, err)
	}
	return nil
}
