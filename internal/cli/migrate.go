package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/migrate"
	"github.com/kmirror/kmirror/internal/status"
)

func migrateCmd(g *globals) *cobra.Command {
	cmd := subcommandsOnly(&cobra.Command{
		Use:   "migrate",
		Short: "Checks for the steps of a consumer-first migration",
	})
	cmd.AddCommand(readyCmd(g), drainCmd(g), rollbackCmd(g), failoverCmd(g), handBackCmd(g), reportCmd(g))
	return cmd
}

func readyCmd(g *globals) *cobra.Command {
	var sf statusFlags
	var group string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "ready -c FILE --group G",
		Short: "Tell whether group G's consumers can be switched to the target now (exit 0 ready, 1 not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wait < 0 {
				return usage(fmt.Errorf("--wait %s is negative", wait))
			}
			cfg, c, err := sf.collector(cmd.Context(), g, status.Options{})
			if err != nil {
				return err
			}
			defer c.Close()
			v, err := waitReady(cmd.Context(), c, group, wait)
			if err != nil {
				return err
			}
			logger, _ := g.logger() // checked by the collector
			journal.Note(cmd.Context(), cfg, logger, v.Events(time.Now(), journal.By("kmirror migrate ready"))...)
			if sf.json {
				if err := writeJSON(g.stdout, v); err != nil {
					return err
				}
			} else {
				printVerdict(g.stdout, v, c.MaxLag())
			}
			if !v.Ready {
				return &exitError{code: ExitFailure}
			}
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVar(&group, "group", "", "the consumer group (required)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "ask again every second until the group is ready or this long has passed (0: answer at once)")
	_ = cmd.MarkFlagRequired("group")
	return cmd
}

// waitReady asks whether group is ready, and asks again every second for
// up to wait while it is not; the last verdict is the answer.
func waitReady(ctx context.Context, c *status.Collector, group string, wait time.Duration) (migrate.Verdict, error) {
	deadline := time.Now().Add(wait)
	for {
		v := migrate.Ready(c.Collect(ctx), group)
		if v.Ready || !time.Now().Before(deadline) {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func reportCmd(g *globals) *cobra.Command {
	var sf statusFlags
	cmd := &cobra.Command{
		Use:   "report -c FILE [--json]",
		Short: "Print the migration's story: where each topic and group stands and every step recorded, with its checks and figures",
		Long: `report reads each flow's journal (the topic kmirror-journal.<source>.internal on
the target) and the clusters, and prints every topic and group that has a part
in the migration: its phase (mirroring, consumers-ready, consumers-switched,
producers-drained, verified, done; or removed, rolled-back), since when and by
what, and each step recorded — started, caught-up, translated, ready, switched,
drained, verified, removed, rolled-back — with its verdict, reasons and counts.
Markdown (the default) is for a change ticket; --json gives the same as JSON
(the schema is in docs/cli.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, c, err := sf.collector(cmd.Context(), g, status.Options{})
			if err != nil {
				return err
			}
			defer c.Close()
			journals := map[string]string{}
			for _, f := range cfg.Flows {
				journals[f.Name()] = f.JournalTopic()
			}
			story := migrate.NewStory(c.Collect(cmd.Context()), journals)
			if sf.json {
				return writeJSON(g.stdout, story)
			}
			return story.Markdown(g.stdout)
		},
	}
	sf.register(cmd)
	return cmd
}

func printVerdict(w io.Writer, v migrate.Verdict, maxLag time.Duration) {
	word := "NOT READY"
	if v.Ready {
		word = "READY"
	}
	fmt.Fprintf(w, "group %s: %s to switch its consumers to the target\n", v.Group, word)
	for _, r := range v.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	for _, f := range v.Flows {
		fmt.Fprintf(w, "flow %s (lag threshold %s):\n", f.Flow, maxLag)
		printGroup(w, f.Group, false)
	}
	if v.Ready {
		fmt.Fprintln(w, "Start the consumers on the target: each resumes at the record after its last commit on the source.")
	}
}

func rollbackCmd(g *globals) *cobra.Command {
	var cf configFlags
	var cn connectFlags
	var group string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "rollback -c FILE --group G [--dry-run]",
		Short: "Move group G's consumers back to the source: commit its target offsets there, translated back exactly (exit 0 done, 1 not ready)",
		Long: `rollback undoes the consumer switch of a consumer-first migration. Once group G's
consumers are stopped on the target (and none runs on the source), it translates
each offset G committed on a mirrored target topic back to the source through the
flow's exact offset map, and commits it to G on the source: started there again,
each consumer resumes at the record after its last one on the target.

It needs OffsetCommit on the source (Read on the group): 'kmirror preflight
--rollback' checks it. --dry-run gives the verdict and the offsets without
committing them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, logger, err := connected(ctx, g, &cf, &cn)
			if err != nil {
				return err
			}
			b, err := migrate.Rollback(ctx, cfg, group, !dryRun, logger)
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			journal.Note(ctx, cfg, logger, b.Events(time.Now(), journal.By("kmirror migrate rollback"))...)
			if asJSON {
				if err := writeJSON(g.stdout, b); err != nil {
					return err
				}
			} else {
				printRollback(g.stdout, b)
			}
			if !b.Ready {
				return &exitError{code: ExitFailure}
			}
			return nil
		},
	}
	cf.register(cmd)
	cn.register(cmd)
	cmd.Flags().StringVar(&group, "group", "", "the consumer group (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "give the verdict and the translated offsets without committing them")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verdict as JSON")
	_ = cmd.MarkFlagRequired("group")
	return cmd
}

func printRollback(w io.Writer, b migrate.RollbackResult) {
	switch {
	case b.Committed:
		fmt.Fprintf(w, "group %s: ROLLED BACK: its offsets are committed on the source\n", b.Group)
	case b.Ready:
		fmt.Fprintf(w, "group %s: READY to roll back to the source (dry run: nothing committed)\n", b.Group)
	default:
		fmt.Fprintf(w, "group %s: NOT READY to roll back to the source\n", b.Group)
	}
	for _, r := range b.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	for _, f := range b.Flows {
		fmt.Fprintf(w, "flow %s (members: %d on the source, %d on the target):\n", f.Flow, f.ActiveOnSource, f.ActiveOnTarget)
		for _, p := range f.Partitions {
			to, was := "cannot be translated", "nothing"
			if p.Source != nil {
				to = fmt.Sprintf("source %s[%d] at %d", p.Topic, p.Partition, *p.Source)
			}
			if p.Previous != nil {
				was = fmt.Sprint(*p.Previous)
			}
			fmt.Fprintf(w, "  %s[%d] at %d → %s (the source had %s committed)\n", p.TargetTopic, p.Partition, p.Target, to, was)
		}
	}
	if b.Committed {
		fmt.Fprintln(w, "Start the consumers on the source: each resumes at the record after its last one on the target.")
	}
}

func drainCmd(g *globals) *cobra.Command {
	var df drainFlags
	cmd := &cobra.Command{
		Use:   "drain -c FILE --topic T…",
		Short: "After the producers stopped: wait until no producer wrote to the source topics for a quiet window and everything on them is on the target (exit 0 drained, 1 not)",
		Long: `drain is step (d) of a consumer-first migration: once the producers of topics are
stopped on the source, it waits until

  - no producer has written to their partitions for --quiet-window (10s): their end
    offsets stay put, Kafka's DescribeProducers lists no idempotent or transactional
    producer that wrote within the window, and no transaction is open on them (last
    stable offset below the end);
  - everything up to the source's end is on the target;

then says the producers may start on the target (exit 0). While it waits it names
every partition still written, with the producer ids and when each last wrote; after
--timeout it exits 1 with the same. A producer without idempotence shows only
through the end offsets: make the window longer than its longest pause. A broker that
cannot answer one of these questions gets a note, and the rest still count. With no
kmirror worker running the flow it fails at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return df.run(cmd.Context(), g, "kmirror migrate drain", nil, func(cfg *config.Config) string {
				return fmt.Sprintf("drained: everything on %s is on the target and nothing wrote to it for %s; switch the producers", strings.Join(df.topics, ", "), df.quiet)
			})
		},
	}
	df.register(cmd)
	return cmd
}

func failoverCmd(g *globals) *cobra.Command {
	var df drainFlags
	var to string
	cmd := &cobra.Command{
		Use:   "failover -c FILE --to CLUSTER --topic T…",
		Short: "Move the producers of topics to CLUSTER and back: drain both ways, then say they may write there (exit 0 ready, 1 not)",
		Long: `failover moves the producers of topics from one cluster to the other when the
configuration copies them both ways under the same names (A->B and B->A, identity
replication): stop the producers where they write, then

  kmirror migrate failover -c FILE --to B --topic T…

waits until no producer wrote on either cluster for --quiet-window (as 'migrate
drain' judges it), and everything written on A is on B and everything written on B
is on A, then says the producers may start on B: the flow back copies what they write there
back to A, from exactly where it is, nothing twice. --to A is the way back.
Consumers follow with 'migrate ready' or 'migrate rollback'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			check := func(cfg *config.Config) error {
				if cfg.Cluster(to) == nil {
					return fmt.Errorf("--to %q is not a cluster of the configuration", to)
				}
				for _, f := range cfg.Flows {
					if f.Target == to && cfg.SameNamePair(f) != nil {
						return nil
					}
				}
				return fmt.Errorf("no flow copies into %s and back under the same names: add the way back (%s->X next to X->%s) with the identity replication policy, or use 'migrate drain'", to, to, to)
			}
			return df.run(cmd.Context(), g, "kmirror migrate failover", check, func(cfg *config.Config) string {
				var back []string
				for _, f := range cfg.Flows {
					if f.Source == to && cfg.SameNamePair(f) != nil {
						back = append(back, f.Name())
					}
				}
				return fmt.Sprintf("drained both ways: everything on %s is on both clusters; start the producers on %s: %s copies what they write back",
					strings.Join(df.topics, ", "), to, strings.Join(back, ", "))
			})
		},
	}
	df.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "the cluster the producers move to (required)")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// drainFlags are the flags of the commands that wait for topics to drain.
type drainFlags struct {
	cf                       configFlags
	conn                     connectFlags
	topics                   []string
	timeout, interval, quiet time.Duration
	json                     bool
}

func (df *drainFlags) register(cmd *cobra.Command) {
	df.cf.register(cmd)
	df.conn.register(cmd)
	cmd.Flags().StringSliceVar(&df.topics, "topic", nil, "source topics to drain (repeat or separate with commas; required)")
	cmd.Flags().DurationVar(&df.timeout, "timeout", 10*time.Minute, "give up after this long")
	cmd.Flags().DurationVar(&df.interval, "interval", time.Second, "time between looks")
	cmd.Flags().BoolVar(&df.json, "json", false, "print the last look as JSON at the end, instead of the progress (the schema is in docs/cli.md)")
	cmd.Flags().DurationVar(&df.quiet, "quiet-window", migrate.DefaultQuietWindow,
		"the partitions count as drained only once no producer has written to them for this long (end offsets, DescribeProducers, open transactions): make it longer than your producers' longest pause")
	_ = cmd.MarkFlagRequired("topic")
}

// run waits until every flow copying the topics copied everything on
// their sources, after check (when set) accepted the configuration, and
// prints done's words.
func (df *drainFlags) run(ctx context.Context, g *globals, what string, check func(*config.Config) error, done func(*config.Config) string) error {
	logger, err := g.logger()
	if err != nil {
		return err
	}
	conn, err := df.conn.connect(logger)
	if err != nil {
		return err
	}
	cfg, err := df.cf.load()
	if err != nil {
		return &exitError{code: ExitFailure, err: err}
	}
	if check != nil {
		if err := check(cfg); err != nil {
			return &exitError{code: ExitFailure, err: err}
		}
	}
	if df.quiet <= 0 || df.timeout < df.quiet {
		return usage(fmt.Errorf("--timeout %s must be at least --quiet-window %s (and that above 0): the topics count as drained only after a quiet window", df.timeout, df.quiet))
	}
	if _, err := cluster.CheckAll(ctx, cfg.Clusters, conn); err != nil {
		return &exitError{code: ExitFailure, err: err}
	}
	d, err := migrate.NewDrainer(ctx, cfg, df.topics, df.quiet, logger)
	if err != nil {
		return &exitError{code: ExitFailure, err: err}
	}
	defer d.Close()
	tty := isTerminal(g.stdout) && !df.json
	var last migrate.DrainState
	noted := map[string]bool{}
	err = d.Wait(ctx, df.interval, df.timeout, func(st migrate.DrainState) {
		last = st
		if df.json {
			return
		}
		for _, n := range st.Notes {
			if !noted[n] {
				noted[n] = true
				if tty {
					fmt.Fprintln(g.stdout)
				}
				fmt.Fprintf(g.stdout, "note: %s\n", n)
			}
		}
		printDrain(g.stdout, st, tty)
	})
	if tty {
		fmt.Fprintln(g.stdout)
	}
	if df.json && (err == nil || errors.Is(err, migrate.ErrTimeout)) {
		if jerr := writeJSON(g.stdout, drainReport{Drained: err == nil, Topics: df.topics, Last: last}); jerr != nil {
			return jerr
		}
	}
	switch {
	case err == nil:
		journal.Note(ctx, cfg, logger, d.Events(time.Now(), journal.By(what))...)
		if !df.json {
			fmt.Fprintln(g.stdout, done(cfg))
		}
		return nil
	case errors.Is(err, migrate.ErrTimeout):
		return &exitError{code: ExitFailure, err: fmt.Errorf("%w after %s: %s", err, df.timeout, notDrained(last))}
	case ctx.Err() != nil:
		return &exitError{code: ExitFailure, err: errors.New("interrupted before the topics were drained")}
	}
	return &exitError{code: ExitFailure, err: err}
}

// drainReport is what drain and failover print with --json: the verdict
// and the last look.
type drainReport struct {
	Drained bool               `json:"drained"`
	Topics  []string           `json:"topics"`
	Last    migrate.DrainState `json:"last"`
}

// notDrained says why a look was not drained, naming every partition.
func notDrained(st migrate.DrainState) string {
	var why []string
	if st.Remaining > 0 || len(st.Partitions) > 0 {
		why = append(why, fmt.Sprintf("%d records remain on %s", st.Remaining, strings.Join(st.Partitions, ", ")))
	}
	if len(st.Written) > 0 {
		lines := make([]string, len(st.Written))
		for i, w := range st.Written {
			lines[i] = "\n  - " + w.Describe(st.At)
		}
		why = append(why, fmt.Sprintf("%d partitions are still written to: stop their producers%s", len(st.Written), strings.Join(lines, "")))
	} else if st.Quiet < st.Window {
		why = append(why, fmt.Sprintf("quiet for %s only of the %s window", st.Quiet.Round(100*time.Millisecond), st.Window))
	}
	return strings.Join(why, "; ")
}

// printDrain draws a progress bar on a terminal, a plain line otherwise;
// each says what the drain waits for.
func printDrain(w io.Writer, st migrate.DrainState, tty bool) {
	done := 1.0
	if st.Initial > 0 {
		done = 1 - float64(st.Remaining)/float64(st.Initial)
	}
	waiting := ""
	switch {
	case len(st.Written) > 0:
		waiting = fmt.Sprintf("; still written: %s", st.Written[0].Name())
		if len(st.Written) > 1 {
			waiting += fmt.Sprintf(" and %d more", len(st.Written)-1)
		}
	case st.Quiet < st.Window:
		waiting = fmt.Sprintf("; quiet for %s of %s", st.Quiet.Truncate(time.Second), st.Window)
	}
	if !tty {
		fmt.Fprintf(w, "%3.0f%% drained, %d records remain", done*100, st.Remaining)
		if len(st.Partitions) > 0 {
			fmt.Fprintf(w, " on %s", strings.Join(st.Partitions, ", "))
		}
		fmt.Fprintln(w, waiting)
		const most = 10
		for i, wr := range st.Written {
			if i == most {
				fmt.Fprintf(w, "  - and %d more\n", len(st.Written)-most)
				break
			}
			fmt.Fprintf(w, "  - %s\n", wr.Describe(st.At))
		}
		return
	}
	const width = 30
	n := int(done * width)
	fmt.Fprintf(w, "\r[%s%s] %3.0f%% %d records remain%s\x1b[K", strings.Repeat("#", n), strings.Repeat(" ", width-n), done*100, st.Remaining, waiting)
}
