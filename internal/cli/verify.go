package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/verify"
)

func verifyCmd(g *globals) *cobra.Command {
	var cf configFlags
	var cn connectFlags
	var topics []string
	var from string
	var asJSON bool
	var maxMismatches int
	cmd := &cobra.Command{
		Use:   "verify -c FILE --topic T…",
		Short: "Compare source and target record by record over the mirrored ranges",
		Long: "verify compares each source partition of the topics with its copy on the target, record by record\n" +
			"(key, value, headers, timestamp, order), over the range the mirror copied, following kmirror's exact\n" +
			"offset map. It prints per partition the records compared, identical, altered, missing and extra, and\n" +
			"the first mismatches with their offsets. Exit 0: identical; 1: differences (or an error); 2: usage.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			conn, err := cn.connect(logger)
			if err != nil {
				return err
			}
			o := verify.Options{MaxMismatches: maxMismatches, ConnectTimeout: conn.Timeout}
			if maxMismatches < 0 {
				return &exitError{code: ExitUsage, err: fmt.Errorf("--max-mismatches %d is negative", maxMismatches)}
			}
			if maxMismatches == 0 {
				o.MaxMismatches = -1 // list none
			}
			for _, t := range topics {
				if t = strings.TrimSpace(t); t == "" {
					return &exitError{code: ExitUsage, err: errors.New("--topic: empty topic name")}
				}
				o.Topics = append(o.Topics, t)
			}
			if from != "" {
				if o.From, err = parseTimestamp(from); err != nil {
					return &exitError{code: ExitUsage, err: err}
				}
			}
			cfg, err := cf.load()
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			// A topic no flow selects fails as in migrate drain: the
			// configuration's answer, not a mistake in the flags.
			r, err := verify.Run(cmd.Context(), cfg, o, logger)
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			// A comparison from a timestamp leaves records out: it verifies
			// no step of the migration.
			if o.From.IsZero() {
				journal.Note(cmd.Context(), cfg, logger, r.Events(time.Now(), journal.By("kmirror verify"))...)
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false) // flows are named "a->b"
				if err := enc.Encode(r); err != nil {
					return &exitError{code: ExitFailure, err: err}
				}
			} else {
				printVerify(g.stdout, r, o.From)
			}
			if !r.Identical {
				return &exitError{code: ExitFailure}
			}
			return nil
		},
	}
	cf.register(cmd)
	cn.register(cmd)
	cmd.Flags().StringSliceVar(&topics, "topic", nil, "source topic to verify; repeat or comma-separate (required)")
	cmd.Flags().StringVar(&from, "from-timestamp", "", "start each partition at the first source record at or after this time: RFC 3339 or epoch milliseconds")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().IntVar(&maxMismatches, "max-mismatches", verify.DefaultMaxMismatches, "mismatches listed per partition")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

// parseTimestamp reads an RFC 3339 time or epoch milliseconds.
func parseTimestamp(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--from-timestamp %q is neither RFC 3339 (2006-01-02T15:04:05Z) nor epoch milliseconds", s)
	}
	return t, nil
}

func printVerify(w io.Writer, r *verify.Report, from time.Time) {
	if !from.IsZero() {
		fmt.Fprintf(w, "from %s (%d ms)\n", from.Format(time.RFC3339Nano), from.UnixMilli())
	}
	flow := ""
	for _, p := range r.Partitions {
		if p.Flow != flow {
			flow = p.Flow
			fmt.Fprintf(w, "flow %s\n", flow)
		}
		fmt.Fprintf(w, "  %s[%d] → %s[%d]: ", p.Topic, p.Partition, p.TargetTopic, p.Partition)
		switch p.State {
		case verify.StateNotMirrored:
			fmt.Fprintln(w, "not mirrored yet")
			continue
		case verify.StateRecreated:
			fmt.Fprintln(w, "not compared: the stored progress names another topic id (the source topic was recreated since it was mirrored?)")
			continue
		}
		fmt.Fprintf(w, "source [%d, %d) → target [%d, %d)\n", p.Source.From, p.Source.To, p.Target.From, p.Target.To)
		fmt.Fprintf(w, "    %s\n", counts(p.Counts))
		for _, m := range p.Mismatches {
			fmt.Fprintf(w, "    %-8s %s\n", m.Kind, mismatch(m))
		}
		if more := p.Altered + p.Missing + p.Extra - int64(len(p.Mismatches)); more > 0 {
			fmt.Fprintf(w, "    … %d more\n", more)
		}
	}
	fmt.Fprintf(w, "total: %d partitions, %s", r.Total.Partitions, counts(r.Total.Counts))
	if n := r.Total.NotMirrored; n > 0 {
		fmt.Fprintf(w, "; %d not mirrored yet", n)
	}
	if n := r.Total.Recreated; n > 0 {
		fmt.Fprintf(w, "; %d recreated", n)
	}
	fmt.Fprintln(w)
	if r.Identical {
		fmt.Fprintln(w, "identical")
	} else {
		fmt.Fprintln(w, "differences found")
	}
}

func counts(c verify.Counts) string {
	s := fmt.Sprintf("compared %d: %d identical, %d altered, %d missing, %d extra", c.Compared, c.Identical, c.Altered, c.Missing, c.Extra)
	if c.FromTarget+c.OnTarget > 0 {
		s += fmt.Sprintf("; written by the flow back: %d on the source, written on the target: %d (compared by the flow back)", c.FromTarget, c.OnTarget)
	}
	return s
}

func mismatch(m verify.Mismatch) string {
	var at string
	switch {
	case m.SourceOffset < 0:
		at = fmt.Sprintf("target %d", m.TargetOffset)
	case m.TargetOffset < 0:
		at = fmt.Sprintf("source %d", m.SourceOffset)
	default:
		at = fmt.Sprintf("source %d → target %d", m.SourceOffset, m.TargetOffset)
	}
	if len(m.Fields) > 0 {
		return at + ": differs in " + strings.Join(m.Fields, ", ")
	}
	return at + ": " + m.Reason
}
