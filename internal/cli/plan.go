package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mirror"
)

func planCmd(g *globals) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "plan -c FILE",
		Short: "Connect and show what each flow would copy, create and follow, and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			for i, f := range cfg.Flows {
				if i > 0 {
					fmt.Fprintln(g.stdout)
				}
				p, err := plan(cmd.Context(), cfg, f)
				if err != nil {
					return &exitError{code: ExitFailure, err: err}
				}
				printPlan(g.stdout, f, p)
			}
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}

func plan(ctx context.Context, cfg *config.Config, f *config.Flow) (mirror.Plan, error) {
	src, tgt := cfg.Cluster(f.Source), cfg.Cluster(f.Target)
	srcCl, err := kgo.NewClient(cluster.Options(src, nil)...)
	if err != nil {
		return mirror.Plan{}, err
	}
	defer srcCl.Close()
	tgtCl, err := kgo.NewClient(cluster.Options(tgt, nil)...)
	if err != nil {
		return mirror.Plan{}, err
	}
	defer tgtCl.Close()
	if _, err := cluster.CheckAll(ctx, []*config.Cluster{src, tgt}, nil); err != nil {
		return mirror.Plan{}, err
	}
	return mirror.MakePlan(ctx, kadm.NewClient(srcCl), kadm.NewClient(tgtCl), f)
}

func printPlan(w io.Writer, f *config.Flow, p mirror.Plan) {
	fmt.Fprintf(w, "flow %s (policy %s)\n", f.Name(), f.Replication.Name())
	fmt.Fprintf(w, "  topics: %d selected\n", len(p.Topics))
	for _, t := range p.Topics {
		action := t.Action
		if t.Reason != "" {
			action += " (" + t.Reason + ")"
		}
		fmt.Fprintf(w, "    %-30s → %-30s %s\n", t.Source, t.Target, action)
		for _, d := range t.ConfigDiffs {
			fmt.Fprintf(w, "      config %s\n", d)
		}
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintf(w, "  topics skipped: %d\n", len(p.Skipped))
		for _, s := range p.Skipped {
			fmt.Fprintf(w, "    %-30s %s\n", s.Topic, s.Reason)
		}
	}
	selected := 0
	for _, g := range p.Groups {
		if g.Selected {
			selected++
		}
	}
	fmt.Fprintf(w, "  groups: %d selected of %d\n", selected, len(p.Groups))
	for _, g := range p.Groups {
		verdict := "selected"
		if !g.Selected {
			verdict = "skipped: " + g.Reason
		}
		fmt.Fprintf(w, "    %-30s %s\n", g.Group, verdict)
	}
	for _, warning := range p.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}
