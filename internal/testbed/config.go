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
