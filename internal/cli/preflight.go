package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/preflight"
)

func preflightCmd(g *globals) *cobra.Command {
	var cf configFlags
	var cn connectFlags
	var kafkaUser, asJSON, rollback, handBack bool
	var producerRate, consumerRate, requestPct int64
	cmd := &cobra.Command{
		Use:   "preflight -c FILE [--kafkauser] [--rollback] [--hand-back]",
		Short: "Check connectivity, authentication, every ACL the configuration needs and what run asks of the clusters; --kafkauser prints least-privilege Strimzi KafkaUsers, offline",
		Long: `preflight prints validate's warnings, connects and authenticates to every cluster of
the configuration, works out every permission kmirror needs there for the topics and
groups the flows select now (from the configuration, for what it cannot list), and
checks each one; then it checks what run will ask of the clusters: internal topics'
replication factors, target topics' partitions, cleanup policies and size limits,
the producer's limits. It exits 1 when a permission is missing or a check fails,
naming them and how to fix each.

--kafkauser prints, without connecting, a least-privilege Strimzi KafkaUser for each
cluster, with ACLs named by the flows' patterns: literal names for a list of names,
prefixes for "prefix.*", and "*" for any other regular expression. It needs no
--secrets-dir: without it, each secret is noted on stderr as not checked, and a
user authenticating with a client certificate from a secret is named after that
secret (Strimzi's User Operator names a user's secret after the user); with it,
after the certificate's CN. Checking the permissions needs --secrets-dir when the
configuration names secrets.

--rollback adds what 'kmirror migrate rollback' needs: committing the groups'
offsets on the source (Read on the groups there). Without it the source stays
read-only. --hand-back adds what 'kmirror migrate hand-back' needs: Create, Read
and Write on MirrorMaker 2's Connect offsets topic, Read and Write on the
offset-syncs topic, Write on the checkpoints topic, Describe on the workers' group.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kafkaUser {
				cfg, err := cf.loadOffline()
				if err != nil {
					return &exitError{code: ExitFailure, err: err}
				}
				// The KafkaUsers are YAML to apply: the warnings and
				// notes go aside.
				printWarnings(g.stderr, cfg)
				for _, n := range notChecked(cfg) {
					fmt.Fprintln(g.stderr, "note:", n)
				}
				var q preflight.Quotas
				set := func(p **int64, flag string, v int64) {
					if cmd.Flags().Changed(flag) {
						*p = &v
					}
				}
				set(&q.ProducerByteRate, "quota-producer-byte-rate", producerRate)
				set(&q.ConsumerByteRate, "quota-consumer-byte-rate", consumerRate)
				set(&q.RequestPercentage, "quota-request-percentage", requestPct)
				opts := preflight.UserOptions{Rollback: rollback, HandBack: handBack}
				if q != (preflight.Quotas{}) {
					opts.SourceQuotas = &q
				}
				out, err := preflight.YAML(preflight.KafkaUsers(cfg, opts))
				if err != nil {
					return &exitError{code: ExitFailure, err: err}
				}
				_, err = g.stdout.Write(out)
				return err
			}
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
			rep, err := preflight.Run(cmd.Context(), cfg, preflight.Options{Timeout: conn.Timeout, Rollback: rollback, HandBack: handBack}, log)
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			if asJSON {
				warnings, _ := diagnostics(cfg)
				for _, d := range warnings {
					rep.Warnings = append(rep.Warnings, d.String())
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printPreflight(g.stdout, rep)
			}
			if rep.Unreachable() || len(rep.Missing()) > 0 || len(rep.Failing()) > 0 {
				return &exitError{code: ExitFailure}
			}
			return nil
		},
	}
	cf.register(cmd)
	cn.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&kafkaUser, "kafkauser", false, "print least-privilege Strimzi KafkaUser resources instead of checking, offline (no --secrets-dir needed)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&rollback, "rollback", false, "add what 'kmirror migrate rollback' needs: Read on the groups on the source")
	f.BoolVar(&handBack, "hand-back", false, "add what 'kmirror migrate hand-back' needs: MirrorMaker 2's Connect offsets topic on the target")
	f.Int64Var(&producerRate, "quota-producer-byte-rate", 0, "with --kafkauser: spec.quotas.producerByteRate of the source users (bytes/s per broker)")
	f.Int64Var(&consumerRate, "quota-consumer-byte-rate", 0, "with --kafkauser: spec.quotas.consumerByteRate of the source users (bytes/s per broker)")
	f.Int64Var(&requestPct, "quota-request-percentage", 0, "with --kafkauser: spec.quotas.requestPercentage of the source users")
	return cmd
}

func printPreflight(w io.Writer, rep preflight.Report) {
	for _, c := range rep.Clusters {
		if c.Error == "" {
			fmt.Fprintf(w, "cluster %q: connected and authenticated\n", c.Alias)
		}
	}
	if rep.Unreachable() {
		// Last, so that the last line names what is wrong.
		for _, c := range rep.Clusters {
			if c.Error != "" {
				fmt.Fprintf(w, "cannot check: %s\n", c.Error)
			}
		}
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tRESOURCE\tPATTERN\tOPERATION\tSTATUS\tWHY")
	for _, r := range rep.Results {
		status := string(r.Status)
		if r.Reason != "" {
			status += " (" + r.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Cluster, r.Resource, r.Resource.Pattern, r.Operation, status, r.Why)
	}
	tw.Flush()
	if len(rep.Requirements) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CLUSTER\tSUBJECT\tSETTING\tSTATUS\tDETAIL")
		for _, r := range rep.Requirements {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Cluster, r.Subject, r.Setting, r.Status, r.Detail)
		}
		tw.Flush()
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	missing, failing := rep.Missing(), rep.Failing()
	if len(missing) == 0 && len(failing) == 0 {
		unknown := 0
		for _, r := range rep.Results {
			if r.Status == preflight.Unknown {
				unknown++
			}
		}
		for _, r := range rep.Requirements {
			if r.Status == preflight.Unknown {
				unknown++
			}
		}
		if unknown > 0 {
			fmt.Fprintf(w, "ok: nothing missing or failing; %d not checkable (unknown)\n", unknown)
			return
		}
		fmt.Fprintln(w, "ok: every permission present, every requirement met")
		return
	}
	// Last, so that the last lines name what is wrong.
	if len(missing) > 0 {
		var names []string
		for _, r := range missing {
			names = append(names, fmt.Sprintf("%s on %s of %q", r.Operation, r.Resource, r.Cluster))
		}
		fmt.Fprintf(w, "missing: %s\n", strings.Join(names, ", "))
	}
	if len(failing) > 0 {
		var names []string
		for _, r := range failing {
			names = append(names, fmt.Sprintf("%s of %s on %q", r.Setting, r.Subject, r.Cluster))
		}
		fmt.Fprintf(w, "fails: %s\n", strings.Join(names, ", "))
	}
}
