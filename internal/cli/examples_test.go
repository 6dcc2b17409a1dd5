package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// leafCommands are the commands a user runs: every runnable command under
// root but help and completion.
func leafCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Runnable() && !c.HasSubCommands() && !c.Hidden && c != root && c.Name() != "help" && c.Name() != "completion" && c.Parent().Name() != "completion" {
			out = append(out, c)
		}
	}
	walk(root)
	return out
}

// Every command a user runs has examples in its help, and each example
// names the command and parses with its flags.
func TestEveryCommandHasExamples(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&globals{stdout: &out, stderr: &out})
	for _, c := range leafCommands(root) {
		path := commandPath(c)
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("kmirror %s has no examples", path)
			continue
		}
		for line := range strings.Lines(c.Example) {
			// The command line alone: before a pipe or a redirection.
			line, _, _ = strings.Cut(line, "|")
			line, _, _ = strings.Cut(line, ">")
			args := strings.Fields(line)
			if len(args) < 1 || args[0] != "kmirror" {
				t.Errorf("kmirror %s: example %q does not start with kmirror", path, line)
				continue
			}
			found, rest, err := root.Find(args[1:])
			if err != nil || found != c && !(path == "version" && found == root) {
				t.Errorf("kmirror %s: example %q runs %q (%v)", path, line, commandPath(found), err)
				continue
			}
			found.InitDefaultVersionFlag() // cobra adds --version when it executes
			if err := found.ParseFlags(rest); err != nil {
				t.Errorf("kmirror %s: example %q: %v", path, line, err)
			}
		}
	}
}

// withoutJSON are the commands that report nothing a script reads as
// JSON, and why; every other command takes --json.
var withoutJSON = map[string]string{
	"run":               "it serves its report at /api/v1/status",
	"deploy kubernetes": "it prints Kubernetes manifests",
	"dev-cluster":       "it runs clusters and prints one ready line a cluster",
	"demo":              "it narrates; status --json reads the clusters it leaves running",
}

// TestEveryReportingCommandHasJSON: a command that reports takes --json.
func TestEveryReportingCommandHasJSON(t *testing.T) {
	var out bytes.Buffer
	for _, c := range leafCommands(newRoot(&globals{stdout: &out, stderr: &out})) {
		path := commandPath(c)
		_, exempt := withoutJSON[path]
		if has := c.Flags().Lookup("json") != nil; has == exempt {
			t.Errorf("kmirror %s: --json %v, exempt %v (%s)", path, has, exempt, withoutJSON[path])
		}
	}
}
