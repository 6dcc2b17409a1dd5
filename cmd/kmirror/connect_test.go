package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/testbed"
)

// A cluster whose broker accepts connections and never answers: every
// command that connects says, after a few seconds, that it still waits for
// it, then fails at --connect-timeout with one error that names the cluster
// and its address. A --connect-timeout that is no duration above 0 is a
// usage error.
func TestConnectTimeoutOnSilentBroker(t *testing.T) {
	_, live, _ := devCluster(t, "--topic", "orders:1")
	quiet := testbed.SilentBroker(t)
	// Both ways under the same names, so that every migrate command has
	// what it asks of the configuration before it connects.
	cfg := filepath.Join(t.TempDir(), "kmirror.yaml")
	flow := func(src, tgt string) string {
		return fmt.Sprintf(`  - sourceCluster: %s
    targetCluster: %s
    topicsPattern: orders
    groupsPattern: app
    sourceConnector:
      config:
        replication.policy.class: identity
        provenance.header.enabled: true
`, src, tgt)
	}
	text := fmt.Sprintf(`connectCluster: quiet
clusters:
  - alias: live
    bootstrapServers: %s
  - alias: quiet
    bootstrapServers: %s
mirrors:
%s%s`, live, quiet, flow("live", "quiet"), flow("quiet", "live"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	const timeout = "4s"
	waiting := "still waiting for quiet at " + quiet
	failure := fmt.Sprintf(`cluster "quiet": connected to %s, but no answer came within %s`, quiet, timeout)
	commands := [][]string{
		{"run", "--http", ""},
		{"plan"},
		{"preflight"},
		{"status"},
		{"migrate", "ready", "--group", "app"},
		{"migrate", "report"},
		{"migrate", "drain", "--topic", "orders"},
		{"migrate", "failover", "--to", "quiet", "--topic", "orders"},
		{"migrate", "rollback", "--group", "app"},
		{"verify", "--topic", "orders"},
	}
	for _, args := range commands {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			// Well inside the default timeout of 30s: a command that
			// ignores the flag does not end in time.
			code, out := runs(t, 25*time.Second, append(args, "-c", cfg, "--connect-timeout", timeout)...)
			if code != 1 {
				t.Errorf("exit %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(out, waiting) {
				t.Errorf("no %q:\n%s", waiting, out)
			}
			if n := strings.Count(out, failure); n != 1 {
				t.Errorf("%d errors %q…, want 1:\n%s", n, failure, out)
			}
			for l := range strings.SplitSeq(out, "\n") {
				if strings.Contains(l, `cluster "live"`) && !strings.Contains(l, "connected and authenticated") {
					t.Errorf("the cluster that answers is named in an error:\n%s", out)
				}
			}
		})
		t.Run(strings.Join(args, " ")+" bad timeout", func(t *testing.T) {
			t.Parallel()
			for _, bad := range []string{"0s", "-1s", "soon"} {
				code, out := runs(t, 20*time.Second, append(args, "-c", cfg, "--connect-timeout", bad)...)
				if code != 2 || !strings.Contains(out, "--connect-timeout") || strings.Contains(out, waiting) {
					t.Errorf("--connect-timeout %s: exit %d, want 2 naming the flag, before connecting:\n%s", bad, code, out)
				}
			}
		})
	}
}
