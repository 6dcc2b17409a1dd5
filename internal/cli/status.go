package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// statusFlags are the flags of the commands that read a migration's state.
type statusFlags struct {
	configFlags
	conn               connectFlags
	maxLag, stallAfter time.Duration
	json               bool
}

func (f *statusFlags) register(cmd *cobra.Command) {
	f.configFlags.register(cmd)
	f.conn.register(cmd)
	cmd.Flags().DurationVar(&f.maxLag, "max-lag", status.DefaultMaxLag, "replication lag under which a consumer group may be switched")
	cmd.Flags().DurationVar(&f.stallAfter, "stalled-after", status.DefaultStallAfter, "a flow is stalled when a partition behind its source's end has not moved for this long")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON (the schema is in docs/cli.md)")
}

// collector loads the configuration, checks that every cluster answers,
// and prepares a status collector.
func (f *statusFlags) collector(ctx context.Context, g *globals, opts status.Options) (*config.Config, *status.Collector, error) {
	logger, err := g.logger()
	if err != nil {
		return nil, nil, err
	}
	conn, err := f.conn.connect(logger)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := f.load()
	if err != nil {
		return nil, nil, &exitError{code: ExitFailure, err: err}
	}
	if _, err := cluster.CheckAll(ctx, cfg.Clusters, conn); err != nil {
		return nil, nil, &exitError{code: ExitFailure, err: err}
	}
	opts.MaxLag, opts.StallAfter = f.maxLag, f.stallAfter
	c, err := status.New(cfg, logger, opts)
	if err != nil {
		return nil, nil, &exitError{code: ExitFailure, err: err}
	}
	return cfg, c, nil
}

func statusCmd(g *globals) *cobra.Command {
	var sf statusFlags
	var watch, partitions, rate bool
	var interval time.Duration
	var sel selection
	cmd := &cobra.Command{
		Use:   "status -c FILE",
		Short: "Show per-topic replication lag and per-group offsets with a consumer-switch verdict",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := sel.check(); err != nil {
				return err
			}
			_, c, err := sf.collector(ctx, g, status.Options{Partitions: partitions})
			if err != nil {
				return err
			}
			defer c.Close()
			// One read answers; a copy rate needs a second, --interval
			// later: --rate asks for it, and --watch shows rates from its
			// second refresh on.
			r := c.Collect(ctx)
			wait := func() bool {
				select {
				case <-ctx.Done():
					return false
				case <-time.After(interval):
					return true
				}
			}
			if rate && !watch {
				if !wait() {
					return nil
				}
				r = c.Collect(ctx)
			}
			tty := isTerminal(g.stdout)
			for {
				if ctx.Err() != nil {
					return nil
				}
				if watch && tty {
					fmt.Fprint(g.stdout, "\x1b[H\x1b[2J") // home, clear: refresh in place
				}
				if err := sel.print(g.stdout, r, c.MaxLag(), sf.json); err != nil {
					return err
				}
				if !watch {
					return nil
				}
				if !tty && !sf.json {
					fmt.Fprintln(g.stdout)
				}
				if !wait() {
					return nil
				}
				r = c.Collect(ctx)
			}
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&watch, "watch", false, "refresh until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between samples (the copy rate is measured over it)")
	cmd.Flags().BoolVar(&rate, "rate", false, "read twice, --interval apart, to show each topic's copy rate (RECORDS/S)")
	cmd.Flags().BoolVar(&partitions, "partitions", false, "show every partition of each topic")
	sel.register(cmd)
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Names such as "source->target" stay readable; this JSON is no HTML.
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// isTerminal tells whether w is a terminal, where output may be redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printWorkers writes the flow's workers and when its progress last
// moved.
func printWorkers(w io.Writer, f status.Flow) {
	last := "never"
	if f.LastProgress != nil {
		last = f.LastProgress.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "  workers: %d; progress last moved: %s\n", len(f.Workers), last)
	for _, wk := range f.Workers {
		var held []string
		n := 0
		for _, t := range slices.Sorted(maps.Keys(wk.Holds)) {
			ps := wk.Holds[t]
			n += len(ps)
			name := t + "["
			if t == workgroup.Slots {
				name = "slots ["
			}
			held = append(held, name+joinInts(ps)+"]")
		}
		const most = 4
		if len(held) > most {
			held = append(held[:most], fmt.Sprintf("and %d more topics", len(held)-most))
		}
		fmt.Fprintf(w, "    %s %s (%s): %d held: %s\n", wk.Host, wk.Client, wk.ID, n, strings.Join(held, ", "))
	}
	if len(f.Stalled) > 0 {
		fmt.Fprintf(w, "  stalled: %s\n", strings.Join(f.Stalled, ", "))
	}
}

// joinInts writes numbers separated by commas.
// joinInts lists partition numbers, runs of three or more as ranges:
// "0-39999,40002".
func joinInts(ns []int32) string {
	ns = slices.Clone(ns)
	slices.Sort(ns)
	var s []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			s = append(s, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		case j > i:
			s = append(s, strconv.Itoa(int(ns[i])), strconv.Itoa(int(ns[j])))
		default:
			s = append(s, strconv.Itoa(int(ns[i])))
		}
		i = j + 1
	}
	return strings.Join(s, ",")
}

// rateText is a copy rate as a table shows it: "-" when not measured.
func rateText(rate *float64) string {
	if rate == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *rate)
}

// printStatus writes every row of a report for people.
func printStatus(w io.Writer, r status.Report, maxLag time.Duration) {
	for i, f := range r.Flows {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printFlowHead(w, f)
		var table bytes.Buffer
		tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TOPIC\tTARGET\tLAG RECORDS\tLAG SECONDS\tRECORDS/S\tCOPIED\tSTEP")
		for _, t := range f.Topics {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%.1f\t%s\t%d\t%s\n", t.Topic, t.Target, t.LagRecords, t.LagSeconds, rateText(t.RecordsPerSecond), t.Copied, stepText(t.Step, false))
			for _, p := range t.Partitions {
				next := "-"
				if p.Next != nil {
					next = fmt.Sprint(*p.Next)
				}
				// As many cells as a topic's line, so that the lines after
				// stay aligned.
				fmt.Fprintf(tw, "    [%d]\tnext %s of %d\t%d\t%.1f\t\t\t", p.Partition, next, p.SourceEnd, p.LagRecords, p.LagSeconds)
				if p.Stopped != "" {
					fmt.Fprintf(tw, "stopped: %s", p.Stopped)
				}
				fmt.Fprintln(tw)
			}
		}
		if len(f.Topics) == 0 {
			fmt.Fprintln(tw, "  (no topic selected)")
		}
		tw.Flush()
		// Empty cells leave blanks at the ends of lines.
		for line := range strings.Lines(table.String()) {
			fmt.Fprintln(w, strings.TrimRight(line, " \n"))
		}
		// A finished topic keeps what its verification found.
		for _, t := range f.Topics {
			if t.Step == nil || (t.Step.Phase != string(journal.PhaseDone) && t.Step.Phase != string(journal.PhaseRemoved)) {
				continue
			}
			for _, e := range t.Step.Timeline {
				if e.Event == string(journal.Verified) {
					fmt.Fprintf(w, "  %s verified %s: %s\n", t.Topic, e.Time.UTC().Format(time.RFC3339), e.Summary())
				}
			}
		}
		for _, b := range f.Blocked {
			fmt.Fprintf(w, "  blocked: %s: %s\n", b.Topic, b.Reason)
		}
		if len(f.Groups) == 0 {
			fmt.Fprintln(w, "  no consumer group selected")
			continue
		}
		fmt.Fprintf(w, "  consumer groups (switch verdict with lag under %s):\n", maxLag)
		for _, gr := range f.Groups {
			printGroup(w, gr, true)
		}
	}
}

// printGroup writes one group's verdict, its migration step when asked
// for, reasons and offsets.
func printGroup(w io.Writer, gr status.Group, withStep bool) {
	fmt.Fprintf(w, "  %s: %s (members: %d on the source, %d on the target)\n", gr.Group, strings.ToUpper(gr.Verdict), gr.ActiveOnSource, gr.ActiveOnTarget)
	if withStep && gr.Step != nil {
		fmt.Fprintf(w, "    step: %s\n", stepText(gr.Step, true))
	}
	for _, r := range gr.Reasons {
		fmt.Fprintf(w, "    - %s\n", r)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(gr.Partitions) > 0 {
		fmt.Fprintln(tw, "    PARTITION\tSOURCE\tTRANSLATED\tBY\tTARGET\tSTATE")
	}
	for _, p := range gr.Partitions {
		by := p.Translation
		if by == "" {
			by = "-"
		}
		fmt.Fprintf(tw, "    %s[%d]\t%d\t%s\t%s\t%s\t%s\n", p.Topic, p.Partition, p.Source, optional(p.Translated), by, optional(p.Target), p.State)
	}
	tw.Flush()
}

func optional(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

// stepText is a migration step: "verified since 2026-12-01T06:30:00Z",
// with what established it when long.
func stepText(s *status.Step, long bool) string {
	if s == nil {
		return "-"
	}
	text := s.Phase
	if s.Since != nil {
		text += " since " + s.Since.UTC().Format(time.RFC3339)
	}
	if long && s.By != "" {
		text += " (" + s.By + ")"
	}
	return text
}
