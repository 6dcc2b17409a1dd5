package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/config"
)

func validateCmd(g *globals) *cobra.Command {
	var cf configFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check a configuration offline and print the effective settings and every warning",
		Long: `validate reads the configuration without connecting, checks it, and prints the
effective settings of every cluster and flow, every warning and every note.

The Kubernetes secrets it names are read and checked under --secrets-dir DIR
(DIR/<secretName>/<key>). Without --secrets-dir each is listed as not checked,
which is no error: a Strimzi User Operator makes the users' secrets only once
their KafkaUsers exist (kmirror preflight --kafkauser prints them). --strict
makes each an error, as it does each warning.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.loadOffline()
			if asJSON {
				var secrets []string
				if err == nil {
					secrets = secretKeys(cf.path)
				}
				return writeValidation(g.stdout, cfg, err, secrets)
			}
			if err != nil {
				fmt.Fprintln(g.stdout, "invalid:", err)
				return &exitError{code: ExitFailure}
			}
			describe(g.stdout, cfg)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verdict and every diagnostic as JSON (the schema is in docs/cli.md)")
	return cmd
}

// validation is what validate prints with --json. The effective settings
// are left out: the text form shows them.
type validation struct {
	Valid    bool         `json:"valid"`
	Format   string       `json:"format,omitempty"`
	Flows    []string     `json:"flows"`
	Clusters []string     `json:"clusters"`
	Errors   []diagnostic `json:"errors"`
	Warnings []diagnostic `json:"warnings"`
	Notes    []diagnostic `json:"notes"`
	// NotChecked are the secrets not read for want of --secrets-dir.
	NotChecked []string `json:"notChecked"`
	// Secrets are the keys of Kubernetes secrets the configuration names,
	// read or not, each once, as SECRET/KEY (KEY may be the glob pattern
	// of a trustedCertificates entry): what --secrets-dir must hold.
	Secrets []string `json:"secrets"`
}

type diagnostic struct {
	Key     string `json:"key,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func diagnosticsOf(ds []config.Diagnostic) []diagnostic {
	out := []diagnostic{}
	for _, d := range ds {
		out = append(out, diagnostic{d.Key, d.Line, d.Msg})
	}
	return out
}

// writeValidation prints validate's verdict as JSON: exit 0 valid, 1
// not, as the text form.
func writeValidation(w io.Writer, cfg *config.Config, err error, secrets []string) error {
	v := validation{Valid: err == nil, Flows: []string{}, Clusters: []string{}, Errors: []diagnostic{}, Warnings: []diagnostic{},
		Notes: []diagnostic{}, NotChecked: []string{}, Secrets: append([]string{}, secrets...)}
	if err != nil {
		var cerr *config.Error
		if !errors.As(err, &cerr) {
			return &exitError{code: ExitFailure, err: err}
		}
		v.Errors = diagnosticsOf(cerr.Errors)
	} else {
		v.Format = formatNames[cfg.Format]
		for _, f := range cfg.Flows {
			v.Flows = append(v.Flows, f.Name())
		}
		for _, c := range cfg.Clusters {
			v.Clusters = append(v.Clusters, c.Alias)
		}
		warnings, notes := diagnostics(cfg)
		v.Warnings, v.Notes = diagnosticsOf(warnings), diagnosticsOf(notes)
		v.NotChecked = append(v.NotChecked, notChecked(cfg)...)
	}
	if err := writeJSON(w, v); err != nil {
		return err
	}
	if !v.Valid {
		return &exitError{code: ExitFailure}
	}
	return nil
}

// secretKeys lists the secret keys the configuration at path names, as
// SECRET/KEY, each once, whether --secrets-dir holds them or not: loaded
// unresolved, every one is recorded and none read. Nil when it does not
// load so (the caller has the errors of the load that reads them).
func secretKeys(path string) []string {
	cfg, err := config.Load(path, config.Options{Unresolved: true})
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range cfg.References {
		if r.Kind == config.RefSecret {
			out = append(out, r.Name+"/"+r.Key)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var formatNames = map[config.Format]string{
	config.FormatStrimzi:    "Strimzi KafkaMirrorMaker2",
	config.FormatNative:     "native YAML",
	config.FormatProperties: "MM2 properties",
}

// describe prints the effective settings of a valid configuration, then its
// diagnostics. Secrets show as ***.
func describe(w io.Writer, cfg *config.Config) {
	format := formatNames[cfg.Format]
	if cfg.Version != "" {
		format += " " + cfg.Version
	}
	fmt.Fprintf(w, "%s: %s\n\nclusters\n", cfg.Path, format)
	for _, c := range cfg.Clusters {
		fmt.Fprintf(w, "  %s\n", c.Alias)
		row(w, 4, "bootstrap", strings.Join(c.Bootstrap, ", "))
		row(w, 4, "tls", describeTLS(c.TLS))
		row(w, 4, "authentication", describeAuth(c))
		if c.Rack != "" {
			row(w, 4, "rack", c.Rack)
		}
	}
	fmt.Fprintln(w, "\nflows")
	for _, f := range cfg.Flows {
		fmt.Fprintf(w, "  %s\n", f.Name())
		row(w, 4, "topics", fmt.Sprintf("%s (exclude: %s)", f.Topics, f.TopicsExclude))
		row(w, 4, "groups", fmt.Sprintf("%s (exclude: %s)", f.Groups, f.GroupsExclude))
		row(w, 4, "policy", fmt.Sprintf("%s (%s), separator %q: topic t is %s on %s", f.Replication.Name(), f.Replication.Class,
			f.Replication.Separator, f.Replication.RemoteTopic(f.Source, "t"), f.Target))
		row(w, 4, "tasks", fmt.Sprintf("%d copy", f.TasksMax))
		row(w, 4, "delivery", describeDelivery(f))
		row(w, 4, "batches", describeBatches(f))
		_, syncs := f.OffsetSyncs()
		row(w, 4, "offset syncs", fmt.Sprintf("%s on the %s", syncs, f.OffsetSyncsLocation))
		row(w, 4, "topic sync", fmt.Sprintf("creation %s, configs %s, ACLs %s, new topics %s",
			onOff(f.TopicCreation), every(f.SyncTopicConfigs, f.SyncTopicConfigsInterval),
			every(f.SyncTopicACLs, f.SyncTopicACLsInterval), every(f.RefreshTopics, f.RefreshTopicsInterval)))
		row(w, 4, "groups sync", fmt.Sprintf("checkpoints to %s %s, offsets to target groups %s, new groups %s",
			f.Replication.CheckpointsTopic(f.Source), every(f.EmitCheckpoints, f.EmitCheckpointsInterval),
			every(f.SyncGroupOffsets, f.SyncGroupOffsetsInterval), every(f.RefreshGroups, f.RefreshGroupsInterval)))
		row(w, 4, "heartbeats", every(f.EmitHeartbeats, f.EmitHeartbeatsInterval))
		throttle := "none"
		if f.ThrottleBytesPerSecond > 0 {
			throttle = fmt.Sprintf("%d B/s of source records per worker", f.ThrottleBytesPerSecond)
		}
		row(w, 4, "throttle", throttle)
		row(w, 4, "overtaken", map[string]string{
			"stop": "if the source deletes records before they are copied: stop the partition",
			"skip": "if the source deletes records before they are copied: skip them, record the gap",
		}[f.OvertakenPolicy])
		row(w, 4, "replication", fmt.Sprintf("topics %s, heartbeats %s, checkpoints %s, offset syncs %s",
			rf(f.ReplicationFactor), rf(f.HeartbeatsReplicationFactor), rf(f.CheckpointsReplicationFactor), rf(f.OffsetSyncsReplicationFactor)))
		row(w, 4, "producer", describeProducer(f.Producer))
		row(w, 4, "consumer", describeConsumer(f.Consumer))
	}
	warnings, notes := diagnostics(cfg)
	printDiagnostics(w, "\nwarnings", warnings)
	printDiagnostics(w, "\nnotes (accepted without effect)", notes)
	unchecked := notChecked(cfg)
	if len(unchecked) > 0 {
		fmt.Fprintln(w, "\nsecrets")
		for _, l := range unchecked {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	fmt.Fprintf(w, "\nvalid: %d %s, %d %s, %d %s", len(cfg.Flows), plural(len(cfg.Flows), "flow"),
		len(cfg.Clusters), plural(len(cfg.Clusters), "cluster"), len(warnings), plural(len(warnings), "warning"))
	if len(unchecked) > 0 {
		fmt.Fprintf(w, "; %d secret %s %s", len(unchecked), plural(len(unchecked), "key"), config.NotChecked)
	}
	fmt.Fprintln(w)
}

// diagnostics are the findings of validate's offline checks, which
// config.Load made: the warnings (probably mistakes) and the notes (keys
// accepted without effect). plan and preflight print the warnings first.
func diagnostics(cfg *config.Config) (warnings, notes []config.Diagnostic) {
	for _, d := range cfg.Diagnostics {
		if d.Level == config.LevelWarning {
			warnings = append(warnings, d)
		} else {
			notes = append(notes, d)
		}
	}
	return warnings, notes
}

// printDiagnostics prints a section of diagnostics under its title, or
// nothing when there are none.
func printDiagnostics(w io.Writer, title string, list []config.Diagnostic) {
	if len(list) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for _, d := range list {
		fmt.Fprintf(w, "  %s\n", d)
	}
}

// printWarnings prints the warnings of validate's offline checks, for a
// command that goes on to connect (plan, preflight), followed by an empty
// line.
func printWarnings(w io.Writer, cfg *config.Config) {
	if warnings, _ := diagnostics(cfg); len(warnings) > 0 {
		printDiagnostics(w, "warnings", warnings)
		fmt.Fprintln(w)
	}
}

func row(w io.Writer, indent int, name, value string) {
	fmt.Fprintf(w, "%s%-15s %s\n", strings.Repeat(" ", indent), name, value)
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func every(on bool, d time.Duration) string {
	if !on {
		return "off"
	}
	return "every " + d.String()
}

func rf(n int16) string {
	if n < 0 {
		return "broker default"
	}
	return fmt.Sprint(n)
}

func describeTLS(t *config.TLS) string {
	if t == nil {
		return "off (plaintext)"
	}
	trust := "system roots"
	if len(t.CAs) > 0 {
		trust = strings.Join(t.CAs, ", ")
	}
	s := "trust " + trust
	if t.ServerName != "" {
		s += ", server name " + t.ServerName
	}
	if t.SkipHostnameVerification {
		s += ", hostname not verified"
	}
	if t.MutualTLS() {
		s += ", client certificate from " + t.CertificateFrom
	}
	return s
}

func describeAuth(c *config.Cluster) string {
	switch {
	case c.SASL != nil && c.SASL.OAuth != nil:
		return "SASL OAUTHBEARER: " + describeOAuth(c.SASL.OAuth)
	case c.SASL != nil:
		return fmt.Sprintf("SASL %s as %q, password %s", c.SASL.Mechanism, c.SASL.Username, c.SASL.Password)
	case c.TLS.MutualTLS():
		return "mutual TLS"
	}
	return "none"
}

// describeOAuth says where a cluster's OAuth tokens come from.
func describeOAuth(o *config.OAuth) string {
	var parts []string
	switch {
	case o.AccessTokenFile != "":
		return "the access token in " + o.AccessTokenFile + ", read at each authentication"
	case o.Given():
		return fmt.Sprintf("an access token given (%s)", o.AccessToken)
	case o.Grant == config.GrantRefreshToken:
		parts = append(parts, fmt.Sprintf("refresh token %s of client %q", o.RefreshToken, o.ClientID))
	case o.Grant == config.GrantPassword:
		parts = append(parts, fmt.Sprintf("password grant as user %q (password %s)", o.Username, o.Password))
	case o.Grant == config.GrantClientCredentials:
		parts = append(parts, fmt.Sprintf("client credentials of client %q", o.ClientID))
	default:
		parts = append(parts, fmt.Sprintf("grant %s of client %q", o.Grant, o.ClientID))
	}
	if !o.ClientSecret.IsZero() {
		parts[0] += fmt.Sprintf(" (secret %s)", o.ClientSecret)
	}
	parts[0] += " from " + o.Endpoint()
	if o.Scope != "" {
		parts = append(parts, fmt.Sprintf("scope %q", o.Scope))
	}
	if o.Audience != "" {
		parts = append(parts, fmt.Sprintf("audience %q", o.Audience))
	}
	if o.TLS != nil {
		parts = append(parts, "endpoint "+describeTLS(o.TLS))
	}
	if o.MaxTokenExpiry > 0 {
		parts = append(parts, "tokens used at most "+o.MaxTokenExpiry.String())
	}
	return strings.Join(parts, ", ")
}

func describeBatches(f *config.Flow) string {
	codec := f.Producer.Compression
	switch {
	case f.ExactlyOnce:
		return "every batch re-encoded (" + codec + "), in the slots' transactions"
	case f.ProvenanceHeader:
		return "every batch re-encoded (" + codec + ") with the kmirror.origin header"
	case f.BatchForwarding == config.ForwardOff:
		return "every batch re-encoded (" + codec + ")"
	case f.BatchForwarding == config.ForwardSameCodec:
		return codec + " batches forwarded as they are, others re-encoded (" + codec + ")"
	}
	return "forwarded as they are, in their codec; re-encoded (" + codec + ") where a record changes or a batch starts before the copy"
}

func describeDelivery(f *config.Flow) string {
	if !f.ExactlyOnce {
		return "at least once; after a crash the target's tail is compared with the source (exactly-once: exactly.once.source.support: enabled on the target cluster)"
	}
	return fmt.Sprintf("exactly once for read_committed readers: %d transactional slots, each committing every %s", f.TransactionSlots, f.TransactionInterval)
}

func describeProducer(p config.Producer) string {
	acks := "acks=" + p.Acks
	if p.Idempotent {
		acks += " idempotent"
	}
	delivery := "retry until stopped"
	if p.DeliveryTimeout > 0 {
		delivery = "give up after " + p.DeliveryTimeout.String()
	}
	return fmt.Sprintf("%s, batch ≤%d B, no linger, buffer %d B, compression %s, request ≤%d B, timeout %s, %s",
		acks, p.BatchSize, p.BufferMemory, p.Compression, p.MaxRequestSize, p.RequestTimeout, delivery)
}

func describeConsumer(c config.Consumer) string {
	iso := "read_uncommitted"
	if c.ReadCommitted {
		iso = "read_committed"
	}
	return fmt.Sprintf("fetch ≤%d B (≤%d B a partition), min %d B, wait %s, %s, new partitions from the %s",
		c.FetchMaxBytes, c.MaxPartitionFetchBytes, c.FetchMinBytes, c.FetchMaxWait, iso, c.StartAt)
}
