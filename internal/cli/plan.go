package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/mirror"
)

func planCmd(g *globals) *cobra.Command {
	var cf configFlags
	var cn connectFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan -c FILE",
		Short: "Connect and show what each flow would copy, create and follow, and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			conn, err := cn.connect(log)
			if err != nil {
				return err
			}
			cfg, err := cf.load()
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			if !asJSON {
				printWarnings(g.stdout, cfg)
			}
			rep := planReport{Warnings: []string{}, Flows: []flowPlan{}}
			for i, f := range cfg.Flows {
				p, err := plan(cmd.Context(), cfg, f, conn, log)
				if err != nil {
					return &exitError{code: ExitFailure, err: err}
				}
				if asJSON {
					rep.Flows = append(rep.Flows, newFlowPlan(f, p))
					continue
				}
				if i > 0 {
					fmt.Fprintln(g.stdout)
				}
				printPlan(g.stdout, f, p)
			}
			if !asJSON {
				return nil
			}
			warnings, _ := diagnostics(cfg)
			for _, d := range warnings {
				rep.Warnings = append(rep.Warnings, d.String())
			}
			return writeJSON(g.stdout, rep)
		},
	}
	cf.register(cmd)
	cn.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON (the schema is in docs/cli.md)")
	return cmd
}

// planReport is what plan prints with --json.
type planReport struct {
	Warnings []string   `json:"warnings"`
	Flows    []flowPlan `json:"flows"`
}

type flowPlan struct {
	Flow     string          `json:"flow"`
	Policy   string          `json:"policy"`
	Topics   []plannedTopic  `json:"topics"`
	Skipped  []skippedTopic  `json:"skipped"`
	Groups   []plannedGroup  `json:"groups"`
	TakeOver []takenOverPlan `json:"takeOver"`
	// MM2Running names MirrorMaker 2's Connect group that still has
	// members; MM2Unknown says why that could not be told.
	MM2Running string   `json:"mm2Running,omitempty"`
	MM2Unknown string   `json:"mm2Unknown,omitempty"`
	Warnings   []string `json:"warnings"`
}

type plannedTopic struct {
	Source      string   `json:"source"`
	Target      string   `json:"target"`
	Partitions  int32    `json:"partitions"`
	Action      string   `json:"action"`
	Reason      string   `json:"reason,omitempty"`
	ConfigDiffs []string `json:"configDiffs"`
}

type skippedTopic struct {
	Topic  string `json:"topic"`
	Reason string `json:"reason"`
}

type plannedGroup struct {
	Group    string `json:"group"`
	Selected bool   `json:"selected"`
	Reason   string `json:"reason,omitempty"`
}

type takenOverPlan struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	MM2Next   int64  `json:"mm2Next"`
	Resume    int64  `json:"resume"`
}

// newFlowPlan is the JSON form of flow f's plan p: fields named here, so
// that the contract does not follow discover's and mirror's types.
func newFlowPlan(f *config.Flow, p planned) flowPlan {
	fp := flowPlan{Flow: f.Name(), Policy: f.Replication.Name(), Topics: []plannedTopic{}, Skipped: []skippedTopic{},
		Groups: []plannedGroup{}, TakeOver: []takenOverPlan{}, Warnings: append([]string{}, p.Warnings...), MM2Running: p.TakeOver.Running}
	for _, t := range p.Topics {
		fp.Topics = append(fp.Topics, plannedTopic{Source: t.Source, Target: t.Target, Partitions: t.Partitions, Action: t.Action, Reason: t.Reason,
			ConfigDiffs: append([]string{}, t.ConfigDiffs...)})
	}
	for _, s := range p.Skipped {
		fp.Skipped = append(fp.Skipped, skippedTopic{s.Topic, s.Reason})
	}
	for _, g := range p.Groups {
		fp.Groups = append(fp.Groups, plannedGroup{g.Group, g.Selected, g.Reason})
	}
	for _, t := range p.TakeOver.Partitions {
		fp.TakeOver = append(fp.TakeOver, takenOverPlan{t.Topic, t.Partition, t.MM2Next, t.Resume})
	}
	if p.TakeOver.Err != nil {
		fp.MM2Unknown = p.TakeOver.Err.Error()
	}
	return fp
}

// planned is what plan found for one flow: what discovery would copy,
// create and follow, and what would be taken over from MirrorMaker 2.
type planned struct {
	discover.Plan
	TakeOver mirror.TakeoverPlan
}

func plan(ctx context.Context, cfg *config.Config, f *config.Flow, conn cluster.Connect, log *slog.Logger) (planned, error) {
	src, tgt := cfg.Cluster(f.Source), cfg.Cluster(f.Target)
	srcCl, err := kgo.NewClient(cluster.Options(src, log)...)
	if err != nil {
		return planned{}, err
	}
	defer srcCl.Close()
	tgtCl, err := kgo.NewClient(cluster.Options(tgt, log)...)
	if err != nil {
		return planned{}, err
	}
	defer tgtCl.Close()
	if _, err := cluster.CheckAll(ctx, []*config.Cluster{src, tgt}, conn); err != nil {
		return planned{}, err
	}
	dp, err := discover.MakePlan(ctx, srcCl, kadm.NewClient(tgtCl), f)
	if err != nil {
		return planned{}, err
	}
	p := planned{Plan: dp}
	// Only topics the target already holds can hold MirrorMaker 2's copies.
	var existing []discover.Topic
	for _, t := range p.Topics {
		if t.Action == discover.ActionCopy {
			existing = append(existing, t.Topic)
		}
	}
	p.TakeOver, err = mirror.PlanTakeover(ctx, f, src, tgt, existing, log)
	return p, err
}

func printPlan(w io.Writer, f *config.Flow, p planned) {
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
	printTakeover(w, p.TakeOver)
	for _, warning := range p.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}

// printTakeover says which partitions kmirror would continue where
// MirrorMaker 2 left them, and whether MM2 still runs.
func printTakeover(w io.Writer, t mirror.TakeoverPlan) {
	if len(t.Partitions) == 0 {
		return
	}
	fmt.Fprintln(w, "  taken over from MirrorMaker 2 (what it copied is not copied again):")
	for _, p := range t.Partitions {
		committed := "committed no position"
		if p.MM2Next >= 0 {
			committed = fmt.Sprintf("resumes at %d (%s)", p.MM2Next, p.OffsetsTopic)
		}
		fmt.Fprintf(w, "    %s[%d]: MM2 %s; its last offset sync %d → %d; copying resumes at %d\n",
			p.Topic, p.Partition, committed, p.Anchor.Upstream, p.Anchor.Downstream, p.Resume)
	}
	switch {
	case t.Err != nil:
		fmt.Fprintf(w, "  warning: cannot tell whether MirrorMaker 2 still runs: %v\n", t.Err)
	case t.Running != "":
		fmt.Fprintf(w, "  warning: MirrorMaker 2 still runs (Connect group %s): kmirror waits for it to stop before taking over\n", t.Running)
	}
}
