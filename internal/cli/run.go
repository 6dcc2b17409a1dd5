package cli

import (
	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/app"
)

func runCmd(g *globals) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Run every flow of the configuration until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := cf.load()
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			for _, d := range cfg.Warnings() {
				logger.Warn(d.String())
			}
			if err := app.New(cfg, logger).Run(cmd.Context()); err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}
