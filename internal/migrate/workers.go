package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// noWorker says that no worker runs the flow from source to target, and
// what to do.
func noWorker(source, target string) string {
	return fmt.Sprintf("flow %s->%s: %s: %s (its workers' group %q on %q has no member): start 'kmirror run' with this configuration",
		source, target, status.StateStopped, status.ReasonNoWorker, workgroup.Name(source, target), target)
}

// requireWorkers fails, naming each flow, when no kmirror worker runs one
// of flows: what waits on their progress would wait in vain.
func requireWorkers(ctx context.Context, cfg *config.Config, flows []*config.Flow, log *slog.Logger) error {
	var stopped []string
	for _, f := range flows {
		ok, err := hasWorkers(ctx, cfg, f, log)
		if err != nil {
			return err
		}
		if !ok {
			stopped = append(stopped, noWorker(f.Source, f.Target))
		}
	}
	switch len(stopped) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s", stopped[0])
	}
	return fmt.Errorf("%d flows run no worker:\n  - %s", len(stopped), strings.Join(stopped, "\n  - "))
}

// hasWorkers tells whether a worker is in flow f's workers' group.
func hasWorkers(ctx context.Context, cfg *config.Config, f *config.Flow, log *slog.Logger) (bool, error) {
	cl, err := kgo.NewClient(cluster.Options(cfg.Cluster(f.Target), log)...)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	ws, err := workgroup.Describe(ctx, kadm.NewClient(cl), workgroup.Name(f.Source, f.Target))
	return len(ws) > 0, err
}
