package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Stamped at release builds with
// -ldflags "-X github.com/kmirror/kmirror/internal/cli.version=… -X …cli.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.stdout, "kmirror %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
