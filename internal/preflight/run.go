package preflight

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/policy"
)

// Report is the outcome of a preflight: every cluster reached (or why
// not), every need with its status, and notes on what was not checked.
type Report struct {
	// Warnings are validate's warnings about the configuration, which
	// the caller adds.
	Warnings []string       `json:"warnings,omitempty"`
	Clusters []ClusterCheck `json:"clusters"`
	Results  []Result       `json:"permissions"`
	Notes    []string       `json:"notes,omitempty"`
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

// Options are what a check takes besides the configuration.
type Options struct {
	// Timeout bounds each cluster's connection check.
	Timeout time.Duration
	// Rollback adds what `kmirror migrate rollback` needs.
	Rollback bool
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
	for _, c := range cfg.Clusters {
		info, err := cluster.Check(ctx, c, opts.Timeout, nil)
		if err != nil {
			rep.Clusters = append(rep.Clusters, ClusterCheck{Alias: c.Alias, Error: err.Error()})
			continue
		}
		rep.Clusters = append(rep.Clusters, ClusterCheck{Alias: c.Alias, ClusterID: info.ClusterID})
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
	for _, f := range cfg.Flows {
		scope, notes, err := currentScope(ctx, f, kadm.NewClient(clients[f.Source]), kadm.NewClient(clients[f.Target]))
		if err != nil {
			return rep, fmt.Errorf("flow %s: %w", f.Name(), err)
		}
		rep.Notes = append(rep.Notes, notes...)
		scope.Rollback = opts.Rollback
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
	return rep, nil
}

// currentScope is what flow f selects now: the source topics discovery
// selects, and those the topics pattern names literally but the user may
// not see (a missing Describe hides a topic from listings); their target
// topics, the missing ones to create; and the selected groups.
func currentScope(ctx context.Context, f *config.Flow, src, tgt *kadm.Client) (Scope, []string, error) {
	var scope Scope
	var notes []string
	sel, err := mirror.Discover(ctx, src, f)
	if err != nil {
		return scope, nil, err
	}
	var names []string
	for _, t := range sel.Topics {
		names = append(names, t.Source)
	}
	filter := policy.Filter{Include: f.Topics, Exclude: f.TopicsExclude}
	var unlisted []string
	for _, r := range Grants(TypeTopic, f.Topics) {
		if r.Pattern != Literal || r.Name == "*" || slices.Contains(names, r.Name) || policy.IsInternal(r.Name) {
			continue
		}
		if v, err := filter.Select(r.Name); err == nil && v.Selected {
			unlisted = append(unlisted, r.Name)
		}
	}
	if len(unlisted) > 0 {
		details, err := src.ListTopics(ctx, unlisted...)
		if err != nil {
			return scope, nil, fmt.Errorf("describe topics of %q: %w", f.Source, err)
		}
		for _, name := range unlisted {
			if d, ok := details[name]; ok && errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
				notes = append(notes, fmt.Sprintf("topic %q of %s's topics pattern does not exist on %s; not checked", name, f.Name(), f.Source))
				continue
			}
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		notes = append(notes, fmt.Sprintf("%s selects no topic of %s now; topic permissions not checked", f.Name(), f.Source))
	}
	remotes := make([]string, len(names))
	for i, name := range names {
		scope.SourceTopics = append(scope.SourceTopics, topic(name))
		remotes[i] = f.Replication.RemoteTopic(f.Source, name)
		scope.TargetTopics = append(scope.TargetTopics, topic(remotes[i]))
	}
	if len(remotes) > 0 {
		existing, err := tgt.ListTopics(ctx, remotes...)
		if err != nil {
			return scope, nil, fmt.Errorf("describe topics of %q: %w", f.Target, err)
		}
		for _, name := range remotes {
			d, ok := existing[name]
			if ok && d.Err == nil {
				continue
			}
			if !f.TopicCreation {
				notes = append(notes, fmt.Sprintf("target topic %q is not on %s (or not visible) and %s is false: create it", name, f.Target, config.KeyTopicCreation))
				continue
			}
			scope.CreateTopics = append(scope.CreateTopics, topic(name))
		}
	}
	if f.EmitCheckpoints || f.SyncGroupOffsets {
		groups, err := selectedGroups(ctx, f, src)
		if err != nil {
			return scope, nil, err
		}
		if len(groups) == 0 {
			notes = append(notes, fmt.Sprintf("%s selects no group of %s now; group permissions not checked", f.Name(), f.Source))
		}
		for _, g := range groups {
			scope.Groups = append(scope.Groups, Resource{Type: TypeGroup, Name: g, Pattern: Literal})
		}
	}
	return scope, notes, nil
}

// selectedGroups lists the source groups the flow follows now, and those
// its groups pattern names literally (a group the user may not describe
// is not listed).
func selectedGroups(ctx context.Context, f *config.Flow, src *kadm.Client) ([]string, error) {
	filter := policy.Filter{Include: f.Groups, Exclude: f.GroupsExclude}
	out, err := checkpoint.SelectGroups(ctx, src, f.Source, filter)
	if err != nil {
		return nil, err
	}
	for _, r := range Grants(TypeGroup, f.Groups) {
		if r.Pattern != Literal || r.Name == "*" || slices.Contains(out, r.Name) {
			continue
		}
		if v, err := filter.Select(r.Name); err == nil && v.Selected {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}
