package testbed

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmirror/kmirror/internal/config"
)

// Config loads a native configuration with one flow from source to target
// (aliases "source" and "target"); mirror holds the mirror's further
// lines, as for NativeConfig.
func Config(t testing.TB, source, target *Cluster, mirror string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "kmirror.yaml"), []byte(NativeConfig(source, target, mirror)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Logger is the logger of the code under test: silent, or everything on
// stderr with go test -v.
func Logger(testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// BothWays loads a native configuration with the flow from source to
// target and its pair, the flow back, both copying the same topic names
// (identity) with provenance headers, under topics; it returns the
// configuration, the first flow and its pair.
func BothWays(t testing.TB, source, target *Cluster, topics string) (*config.Config, *config.Flow, *config.Flow) {
	t.Helper()
	mirror := `
    topicsPattern: "` + topics + `"
    groupsPattern: "` + topics + `"
    sourceConnector:
      config:
        replication.policy.class: identity
        provenance.header.enabled: true`
	cfg := Config(t, source, target, mirror+`
  - sourceCluster: target
    targetCluster: source`+mirror+"\n")
	f := cfg.Flows[0]
	pair := cfg.SameNamePair(f)
	if pair == nil {
		t.Fatalf("set-up: %s has no pair", f.Name())
	}
	return cfg, f, pair
}
