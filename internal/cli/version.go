package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Stamped at release builds with
// -ldflags "-X github.com/kmirror/kmirror/internal/cli.version=… -X …cli.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

func versionCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version (also: kmirror --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				v, c := build()
				return writeJSON(g.stdout, versionReport{Version: v, Commit: c, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH})
			}
			fmt.Fprintln(g.stdout, versionLine())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON: version, commit, go, platform")
	return cmd
}

// versionReport is what version prints with --json.
type versionReport struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// versionLine is what `kmirror version` and `kmirror --version` print.
func versionLine() string {
	v, c := build()
	return fmt.Sprintf("kmirror %s (commit %s, %s %s/%s)", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// build is this binary's version and commit: those stamped at release
// builds, else what the Go toolchain recorded in a binary go build or go
// install made from a checkout — the module's version (since Go 1.24 a
// pseudo-version such as v0.0.0-20260101120000-0123456789ab, with +dirty
// for uncommitted changes) and the VCS revision, with +dirty as well. A
// binary built without VCS information (-buildvcs=false) is "dev" at
// commit "unknown".
func build() (v, c string) {
	v, c = version, commit
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v, c
	}
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if c == "unknown" {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			c = rev
			if modified == "true" {
				c += "+dirty"
			}
		}
	}
	return v, c
}
