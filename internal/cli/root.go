// Package cli is kmirror's command line: the commands and flags of
// DESIGN.md's contract, their output and their exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/config"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // invalid configuration, failed check, fatal error
	ExitUsage   = 2 // wrong flags or arguments
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
	cmd.Flags().StringVarP(&f.path, "config", "c", "", "configuration file: a Strimzi KafkaMirrorMaker2, native YAML, or MM2 properties (required)")
	cmd.Flags().StringVar(&f.secretsDir, "secrets-dir", "", "directory of mounted Kubernetes secrets: DIR/<secretName>/<key>")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "treat warnings (unknown keys, …) as errors")
	_ = cmd.MarkFlagRequired("config")
}

func (f *configFlags) load() (*config.Config, error) {
	return config.Load(f.path, config.Options{SecretsDir: f.secretsDir, Strict: f.strict})
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "kmirror",
		Short:         "Kafka cross-cluster replication and migration",
		Long:          "kmirror mirrors Kafka topics and consumer-group offsets from source clusters to a target cluster,\nand tells you when each consumer group and producer can be switched.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(versionCmd(g), validateCmd(g), planCmd(g), runCmd(g), statusCmd(g), migrateCmd(g), preflightCmd(g), verifyCmd(g), devClusterCmd(g), demoCmd(g))

	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "kmirror:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "kmirror:", err)
	if isUsage(err) {
		return ExitUsage
	}
	return ExitFailure
}

func isUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "required flag", "invalid argument", "accepts ", "flag needs"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
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
