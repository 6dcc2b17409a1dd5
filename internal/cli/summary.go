package cli

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/status"
)

// DefaultSummaryOver is how many topics or groups a flow has at most for
// `kmirror status` to print every row of it.
const DefaultSummaryOver = 50

// selection is what `kmirror status` prints of a report: every row of a
// small flow, a summary of a large one, or the topics and groups named.
type selection struct {
	topics, groups []string
	all, summary   bool
	over           int
}

func (s *selection) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&s.topics, "topic", nil, "show this topic alone (repeatable); with --json, as /api/v1/status?topic=")
	cmd.Flags().StringArrayVar(&s.groups, "group", nil, "show this group alone (repeatable); with --json, as /api/v1/status?group=")
	cmd.Flags().BoolVar(&s.all, "all", false, "show every topic and group, however many")
	cmd.Flags().BoolVar(&s.summary, "summary", false, "show each flow's summary (with --json, what /api/v1/status/summary serves)")
	cmd.Flags().IntVar(&s.over, "summary-over", DefaultSummaryOver, "show the summary of a flow with more topics or groups than this, not every row")
}

func (s *selection) check() error {
	if s.over < 0 {
		return usage(fmt.Errorf("--summary-over %d is negative", s.over))
	}
	if s.summary && (s.all || len(s.topics)+len(s.groups) > 0) {
		return usage(fmt.Errorf("--summary shows no rows: it goes with neither --all, --topic nor --group"))
	}
	return nil
}

// print writes r as selected. JSON is what /api/v1/status answers for the
// same selection: the whole report unless topics or groups are named.
func (s *selection) print(w io.Writer, r status.Report, maxLag time.Duration, asJSON bool) error {
	q := status.Query{Topics: s.topics, Groups: s.groups}
	switch {
	case asJSON && s.summary:
		return writeJSON(w, status.Summarize(r, status.DefaultWorst))
	case asJSON:
		return writeJSON(w, q.Apply(r))
	case !q.IsZero():
		printStatus(w, q.Apply(r), maxLag)
		return nil
	}
	for i, f := range r.Flows {
		if i > 0 {
			fmt.Fprintln(w)
		}
		large := len(f.Topics) > s.over || len(f.Groups) > s.over
		if s.summary || (large && !s.all) {
			printSummary(w, f, status.Summarize(status.Report{Flows: []status.Flow{f}}, status.DefaultWorst).Flows[0], maxLag)
			if !s.summary {
				fmt.Fprintf(w, "  %d topics and %d groups, more than --summary-over %d: --all shows every row, --topic T and --group G the ones named\n",
					len(f.Topics), len(f.Groups), s.over)
			}
			continue
		}
		printStatus(w, status.Report{Time: r.Time, Flows: []status.Flow{f}}, maxLag)
	}
	return nil
}

// printSummary writes a flow's summary for people: counts, and the worst
// topics and groups.
func printSummary(w io.Writer, f status.Flow, s status.FlowSummary, maxLag time.Duration) {
	printFlowHead(w, f)
	t := s.Topics
	fmt.Fprintf(w, "  topics: %d (%d partitions), %d lagging, %d records behind; by phase: %s\n",
		t.Total, t.Partitions, t.Lagging, t.LagRecords, byName(t.ByPhase))
	for _, worst := range []struct {
		title string
		list  []status.TopicLag
	}{{"largest lag in records", s.WorstLagRecords}, {"largest lag in seconds", s.WorstLagSeconds}} {
		if len(worst.list) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s:\n", worst.title)
		var table bytes.Buffer
		tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "    TOPIC\tTARGET\tLAG RECORDS\tLAG SECONDS\tRECORDS/S\tPHASE")
		for _, l := range worst.list {
			fmt.Fprintf(tw, "    %s\t%s\t%d\t%.1f\t%s\t%s\n", l.Topic, l.Target, l.LagRecords, l.LagSeconds, rateText(l.RecordsPerSecond), l.Phase)
		}
		tw.Flush()
		w.Write(table.Bytes())
	}
	for _, b := range s.Blocked.First {
		fmt.Fprintf(w, "  blocked: %s: %s\n", b.Topic, b.Reason)
	}
	if more := s.Blocked.Count - len(s.Blocked.First); more > 0 {
		fmt.Fprintf(w, "  blocked: and %d more topics\n", more)
	}
	g := s.Groups
	fmt.Fprintf(w, "  consumer groups: %d; by verdict (lag under %s): %s; by phase: %s\n", g.Total, maxLag, byName(g.ByVerdict), byName(g.ByPhase))
	if len(s.NotReady) > 0 {
		fmt.Fprintf(w, "  not ready (%d of %d):\n", len(s.NotReady), g.ByVerdict[status.VerdictNotReady])
	}
	for _, n := range s.NotReady {
		fmt.Fprintf(w, "  %s: NOT-READY (members: %d on the source, %d on the target)\n", n.Group, n.ActiveOnSource, n.ActiveOnTarget)
		for _, r := range n.Reasons.First {
			fmt.Fprintf(w, "    - %s\n", r)
		}
		if more := n.Reasons.Count - len(n.Reasons.First); more > 0 {
			fmt.Fprintf(w, "    - and %d more reasons\n", more)
		}
	}
}

// printFlowHead writes a flow's first lines: its name and state, its
// workers, its last heartbeat and its errors.
func printFlowHead(w io.Writer, f status.Flow) {
	way := ""
	if f.Direction == status.DirectionBack {
		way = ", the way back"
	}
	state := f.State
	if f.StateReason != "" {
		state += ": " + f.StateReason
	}
	fmt.Fprintf(w, "flow %s (%s%s)\n", f.Name, state, way)
	printWorkers(w, f)
	if f.Heartbeat != nil {
		fmt.Fprintf(w, "  last heartbeat %s (round trip %.3fs)\n", f.Heartbeat.Time.Format(time.RFC3339), f.Heartbeat.RTTSeconds)
	}
	for _, e := range f.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

// byName writes "mirroring 12, consumers-ready 3": phases in their order,
// anything else after by name.
func byName(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		ra, rb := slices.Index(journal.Order, journal.Phase(a)), slices.Index(journal.Order, journal.Phase(b))
		if ra < 0 {
			ra = len(journal.Order)
		}
		if rb < 0 {
			rb = len(journal.Order)
		}
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
