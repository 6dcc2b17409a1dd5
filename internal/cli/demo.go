package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/app"
	"github.com/kmirror/kmirror/internal/demo"
	"github.com/kmirror/kmirror/internal/httpapi"
)

func demoCmd(g *globals) *cobra.Command {
	var opts demo.Options
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a narrated consumer-first migration between two embedded clusters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The demo narrates; kmirror's own logs only when asked for.
			opts.Log = slog.New(slog.DiscardHandler)
			if cmd.Flags().Changed("log-level") {
				logger, err := g.logger()
				if err != nil {
					return err
				}
				opts.Log = logger
			}
			if httpAddr != "" {
				ln, err := httpapi.Listen(httpAddr)
				if err != nil && !cmd.Flags().Changed("http") {
					// The default port is taken (a worker runs, or another
					// demo): any free port does for a demo.
					host, _, _ := net.SplitHostPort(httpAddr)
					if ln, err = httpapi.Listen(net.JoinHostPort(host, "0")); err == nil {
						fmt.Fprintf(g.stdout, "%s is taken: the status page goes on another port (--http ADDR chooses one)\n", httpAddr)
					}
				}
				if err != nil {
					return &exitError{code: ExitFailure, err: fmt.Errorf("%w: choose another address with --http ADDR, or --http \"\" for no status page", err)}
				}
				fmt.Fprintf(g.stdout, "status page: http://%s/\n", ln.Addr())
				opts.Serve = func(ctx context.Context, a *app.App) error {
					return httpapi.ServeListener(ctx, ln, httpapi.Handler(a.HTTP()), "", opts.Log)
				}
			}
			fmt.Fprintln(g.stdout, "kmirror demo: a consumer-first migration between two clusters, step by step as in the MirrorMaker 2 migration guide")
			if _, err := demo.Run(cmd.Context(), g.stdout, opts); err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&opts.Records, "records", 20_000, "records the producers write on the source before the switch")
	cmd.Flags().BoolVar(&opts.KeepRunning, "keep-running", false, "leave the clusters, the mirror and the status page up after the summary, until Ctrl-C")
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:9721", `serve the status page on this address ("" turns it off)`)
	return cmd
}
