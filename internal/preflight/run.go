package preflight

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// Report is the outcome of a preflight: every cluster reached (or why
// not), every need with its status, and notes on what was not checked.
type Report struct {
	// Warnings are validate's warnings about the configuration, which
	// the caller adds.
	Warnings []string       `json:"warnings,omitempty"`
	Clusters []ClusterCheck `json:"clusters"`
	Results  []Result       `json:"permissions"`
	// Requirements are what run asks of the clusters besides
	// permissions: replication factors, partitions, limits.
	Requirements []Requirement `json:"requirements"`
	Notes        []string      `json:"notes,omitempty"`
}

// ClusterCheck is whether a cluster could be reached and authenticated
// against.
type ClusterCheck struct {
	Alias     string `json:"alias"`
	ClusterID string `json:"clusterId,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Unreachable reports whether a cluster could not be reached or
// authenticated against; the permissions were then not checked.
func (r Report) Unreachable() bool {
	for _, c := range r.Clusters {
		if c.Error != "" {
			return true
		}
	}
	return false
}

// Missing returns the needs found missing, less the optional ones.
func (r Report) Missing() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Missing && !res.Optional {
			out = append(out, res)
		}
	}
	return out
}

// Failing returns the requirements run would fail on.
func (r Report) Failing() []Requirement {
	var out []Requirement
	for _, req := range r.Requirements {
		if req.Status == Fails {
			out = append(out, req)
		}
	}
	return out
}

// Options are what a check takes besides the configuration.
type Options struct {
	// Timeout bounds each cluster's connection check; 0 is
	// cluster.DefaultConnectTimeout.
	Timeout time.Duration
	// Rollback adds what `kmirror migrate rollback` needs.
	Rollback bool
	// HandBack adds what `kmirror migrate hand-back` needs.
	HandBack bool
}

// Run connects and authenticates to every cluster of cfg, then works out
// what each flow needs for the topics and groups it selects now, and
// checks it. The clients log to log.
func Run(ctx context.Context, cfg *config.Config, opts Options, log *slog.Logger) (Report, error) {
	var rep Report
	clients := map[string]*kgo.Client{}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	infos, errs := cluster.CheckEach(ctx, cfg.Clusters, cluster.Connect{Timeout: opts.Timeout, Log: log})
	for i, c := range cfg.Clusters {
		if err := errs[i]; err != nil {
			rep.Clusters = append(rep.Clusters, ClusterCheck{Alias: c.Alias, Error: err.Error()})
			continue
		}
		rep.Clusters = append(rep.Clusters, ClusterCheck{Alias: c.Alias, ClusterID: infos[i].ClusterID})
		cl, err := kgo.NewClient(cluster.Options(c, log)...)
		if err != nil {
			return rep, fmt.Errorf("client of %q: %w", c.Alias, err)
		}
		clients[c.Alias] = cl
	}
	if rep.Unreachable() {
		return rep, nil
	}
	var needs []Need
	views := make([]*flowView, len(cfg.Flows))
	for i, f := range cfg.Flows {
		v, err := currentScope(ctx, f, clients[f.Source], clients[f.Target])
		if err != nil {
			return rep, fmt.Errorf("flow %s: %w", f.Name(), err)
		}
		views[i] = v
		rep.Notes = append(rep.Notes, v.notes...)
		scope := v.scope
		scope.Rollback = opts.Rollback
		scope = scope.WithHandBack(opts.HandBack, cfg, f)
		needs = append(needs, Derive(f, scope.WithMM2(f, cfg.Cluster(f.Target)))...)
	}
	needs = Merge(needs)
	for _, c := range cfg.Clusters {
		var mine []Need
		for _, n := range needs {
			if n.Cluster == c.Alias {
				mine = append(mine, n)
			}
		}
		if len(mine) > 0 {
			rep.Results = append(rep.Results, checkCluster(ctx, clients[c.Alias], c, mine)...)
		}
	}
	rq := &requirer{clients: clients, facts: map[string]clusterFacts{}, errs: map[string]error{}}
	for i, f := range cfg.Flows {
		rq.flow(ctx, f, views[i])
	}
	rep.Requirements = rq.out
	return rep, nil
}
