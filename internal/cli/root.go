// Package cli is kmirror's command line: the commands and flags of
// DESIGN.md's contract, their output and their exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // invalid configuration, failed check, fatal error
	ExitUsage   = 2 // wrong flags or arguments
	// ExitInterrupted: a command that fails once SIGINT or SIGTERM
	// interrupted it (128 + SIGINT, as shells report). run and status
	// --watch stop cleanly instead, with 0.
	ExitInterrupted = 130
)

// exitError carries an exit code; its message, if any, was printed already
// or is printed by Execute.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// globals are the flags every command has.
type globals struct {
	logLevel  string
	logFormat string
	stdout    io.Writer
	stderr    io.Writer
}

// configFlags are the flags of commands that read a configuration.
type configFlags struct {
	path       string
	secretsDir string
	strict     bool
}

func (f *configFlags) register(cmd *cobra.Command) {
	file, fromEnv := os.LookupEnv(config.EnvFile)
	cmd.Flags().StringVarP(&f.path, "config", "c", file, "configuration file: a Strimzi KafkaMirrorMaker2, native YAML, or MM2 properties (required, unless $"+config.EnvFile+" names it)")
	cmd.Flags().StringVar(&f.secretsDir, "secrets-dir", os.Getenv(config.EnvSecretsDir), "directory of mounted Kubernetes secrets: DIR/<secretName>/<key> (default $"+config.EnvSecretsDir+")")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "treat warnings (unknown keys, …) as errors")
	if !fromEnv || file == "" {
		_ = cmd.MarkFlagRequired("config")
	}
}

// connectFlags are the flags of commands that connect to the clusters.
type connectFlags struct{ timeout time.Duration }

func (f *connectFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.timeout, "connect-timeout", cluster.DefaultConnectTimeout,
		fmt.Sprintf("how long to wait for each cluster to answer before giving up (after %s, it says it still waits)", cluster.StillWaitingAfter))
}

// connect is how the command checks the clusters, telling log of those it
// still waits for; a timeout that is not above 0 is a usage error.
func (f *connectFlags) connect(log *slog.Logger) (cluster.Connect, error) {
	if f.timeout <= 0 {
		return cluster.Connect{}, usage(fmt.Errorf("--connect-timeout %s: give a duration above 0, such as 30s", f.timeout))
	}
	return cluster.Connect{Timeout: f.timeout, Log: log}, nil
}

// load reads the configuration for a command that connects: every secret
// it names must be read, so without --secrets-dir it fails in one line.
func (f *configFlags) load() (*config.Config, error) {
	return config.Load(f.path, config.Options{SecretsDir: f.secretsDir, Strict: f.strict})
}

// connected loads the configuration of a command that connects and checks
// its clusters: the logger the command logs to, and the configuration,
// once every cluster answered. A bad flag is a usage error; a
// configuration that does not load, or a cluster that does not answer,
// a failure.
func connected(ctx context.Context, g *globals, cf *configFlags, cn *connectFlags) (*config.Config, *slog.Logger, error) {
	logger, err := g.logger()
	if err != nil {
		return nil, nil, err
	}
	conn, err := cn.connect(logger)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := cf.load()
	if err != nil {
		return nil, nil, &exitError{code: ExitFailure, err: err}
	}
	if _, err := cluster.CheckAll(ctx, cfg.Clusters, conn); err != nil {
		return nil, nil, &exitError{code: ExitFailure, err: err}
	}
	return cfg, logger, nil
}

// loadOffline reads the configuration for a command that does not
// connect: without --secrets-dir, the secrets it names are not read but
// listed by notChecked (errors with --strict).
func (f *configFlags) loadOffline() (*config.Config, error) {
	return config.Load(f.path, config.Options{SecretsDir: f.secretsDir, Strict: f.strict, Offline: true})
}

// notChecked says of each secret of cfg that was not read that it was
// not checked, where the configuration names it.
func notChecked(cfg *config.Config) []string {
	var out []string
	for _, r := range cfg.References {
		if r.Kind == config.RefSecret {
			out = append(out, fmt.Sprintf("%s: %s: %s", r.At, r, config.NotChecked))
		}
	}
	return out
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(&globals{stdout: stdout, stderr: stderr})
	root.SetArgs(args)

	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	// Interrupted (SIGINT, SIGTERM): what failed failed for that; exit
	// as a shell reports a process killed by SIGINT, without a message.
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "kmirror:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "kmirror:", err)
	return ExitFailure
}

// newRoot is the command line, every command under it.
func newRoot(g *globals) *cobra.Command {
	root := subcommandsOnly(&cobra.Command{
		Use:           "kmirror",
		Short:         "Kafka cross-cluster replication and migration",
		Long:          "kmirror mirrors Kafka topics and consumer-group offsets from source clusters to a target cluster,\nand tells you when each consumer group and producer can be switched.",
		SilenceUsage:  true,
		SilenceErrors: true,
	})
	root.Version = versionLine()
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.AddCommand(versionCmd(g), validateCmd(g), planCmd(g), runCmd(g), statusCmd(g), migrateCmd(g), preflightCmd(g), verifyCmd(g), deployCmd(g), devClusterCmd(g), demoCmd(g))
	typeUsageErrors(root)
	addExamples(root)
	return root
}

// usage marks err as a usage error: exit code 2.
func usage(err error) error { return &exitError{code: ExitUsage, err: err} }

// typeUsageErrors makes cobra's errors about flags and arguments usage
// errors, on root and every command under it: flag parse errors through
// the flag error hook, which subcommands inherit; argument errors by
// wrapping each command's Args; missing required flags in the root's
// pre-run hook, because cobra checks them after the hooks and returns its
// error as it is.
func typeUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// "kmirror valdate -c FILE" fails on -c, a flag the root does not
		// have: the misspelt command before it is the mistake to report.
		if cmd.HasSubCommands() {
			if aerr := cmd.ValidateArgs(cmd.Flags().Args()); aerr != nil {
				return aerr
			}
		}
		return usage(err)
	})
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usage(err)
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usage(err)
		}
		return nil
	}
	var wrap func(*cobra.Command)
	wrap = func(cmd *cobra.Command) {
		if check := cmd.Args; check != nil {
			cmd.Args = func(c *cobra.Command, args []string) error {
				if err := check(c, args); err != nil {
					return usage(err)
				}
				return nil
			}
		}
		for _, sub := range cmd.Commands() {
			wrap(sub)
		}
	}
	wrap(root)
}

// subcommandsOnly makes cmd a command that only holds subcommands: alone,
// it prints its help; followed by an unknown subcommand, it is an error.
// (Without Args, cobra reports an unknown subcommand of the root before
// any hook runs, and one of another command not at all.)
func subcommandsOnly(cmd *cobra.Command) *cobra.Command {
	cmd.SuggestionsMinimumDistance = 2 // cobra's own default, which SuggestionsFor does not apply
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return fmt.Errorf("unknown command %q for %q%s", args[0], cmd.CommandPath(), didYouMean(cmd.SuggestionsFor(args[0])))
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	return cmd
}

func didYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(names, " or ") + "?"
}

// logger builds the slog logger the flags ask for, writing to stderr.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, &exitError{code: ExitUsage, err: fmt.Errorf("--log-level %q is not debug, info, warn or error", g.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	}
	return nil, &exitError{code: ExitUsage, err: fmt.Errorf("--log-format %q is not text or json", g.logFormat)}
}
