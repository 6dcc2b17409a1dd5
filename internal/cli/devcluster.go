package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/devcluster"
)

func devClusterCmd(g *globals) *cobra.Command {
	var o devcluster.Options
	var path, secretsDir string
	var aliases []string
	cmd := &cobra.Command{
		Use:   "dev-cluster",
		Short: "Run a local Kafka-protocol cluster for trying kmirror out",
		Long: `Run a local Kafka-protocol cluster (franz-go's kfake) until SIGINT or SIGTERM.
It prints one line, "dev-cluster ready: …", once the brokers accept connections.

With -c FILE, it runs a cluster for each cluster of the configuration (or
those --cluster names) as the configuration reaches it: on its bootstrap
servers (addresses of this machine), with TLS if it uses TLS, asking for a
client certificate if it authenticates with one, and for its SASL user. It
makes up the Kubernetes secrets the configuration names (a CA, a client
certificate and key, a password), anew at each start, and once the clusters
run writes them under --secrets-dir DIR as DIR/<secretName>/<key>, where
kmirror reads them; DIR must be new, empty, or dev-cluster's own. It prints
a ready line per cluster. kfake authorizes SASL users only: a client
authenticated by its certificate is subject to no ACL.`,
		Example: `  kmirror dev-cluster --listen 127.0.0.1:9092
  kmirror dev-cluster --listen 127.0.0.1:9092 --brokers 3 --topic orders:12
  kmirror dev-cluster --listen 127.0.0.1:9093 --tls --superuser SCRAM-SHA-512:admin:admin --acls --data-dir /tmp/target
  kmirror dev-cluster -c examples/seed/kmm2-local.yaml --secrets-dir /tmp/seed-secrets --brokers 3 --topic app1-t1:3
  kmirror dev-cluster -c examples/seed/kmm2-local.yaml --secrets-dir /tmp/seed-secrets --cluster my-source-cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				if len(aliases) > 0 {
					return usage(errors.New("--cluster picks clusters of the configuration: give -c FILE"))
				}
				return runDevCluster(cmd, g, o)
			}
			return runStandins(cmd, g, path, secretsDir, aliases, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Listen, "listen", []string{"127.0.0.1:9092"}, "host:port for each broker (port 0 picks a free port; with one address and several brokers, the next ports)")
	f.IntVar(&o.Brokers, "brokers", 0, "number of brokers (default: one per --listen address, or per bootstrap server with -c)")
	f.StringVar(&o.ClusterID, "cluster-id", "", "cluster ID to report")
	f.StringArrayVar(&o.Superusers, "superuser", nil, "SASL superuser MECHANISM:user:password (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); turns SASL on")
	f.StringArrayVar(&o.Users, "user", nil, "SASL user subject to ACLs, MECHANISM:user:password; turns SASL on")
	f.BoolVar(&o.ACLs, "acls", false, "check ACLs (superusers manage them)")
	f.BoolVar(&o.TLS, "tls", false, "serve TLS with a certificate made at start; its CA is written to --ca-file")
	f.StringVar(&o.CAFile, "ca-file", "", "where --tls writes the CA certificate (default DATA-DIR/ca.crt or a temporary directory)")
	f.StringVar(&o.DataDir, "data-dir", "", "keep the cluster's data here across restarts (with -c, a folder per cluster)")
	f.StringArrayVar(&o.Topics, "topic", nil, "topic to create at start: name or name:partitions (with -c, on every cluster)")
	f.StringVarP(&path, "config", "c", "", "run the clusters of this configuration, as it reaches them (needs --secrets-dir)")
	f.StringVar(&secretsDir, "secrets-dir", "", "with -c: where to write the secrets the configuration names, DIR/<secretName>/<key>")
	f.StringSliceVar(&aliases, "cluster", nil, "with -c: run only the clusters with these aliases (default: every one)")
	cmd.MarkFlagsRequiredTogether("config", "secrets-dir")
	// With -c, the configuration says how each cluster is reached.
	for _, name := range []string{"listen", "cluster-id", "superuser", "user", "acls", "tls", "ca-file"} {
		cmd.MarkFlagsMutuallyExclusive("config", name)
	}
	return cmd
}

// runDevCluster runs one cluster as the flags describe it.
func runDevCluster(cmd *cobra.Command, g *globals, o devcluster.Options) error {
	c, err := devcluster.Start(o)
	if err != nil {
		return &exitError{code: ExitFailure, err: err}
	}
	defer c.Close()
	line := fmt.Sprintf("dev-cluster ready: brokers=%s", strings.Join(c.ListenAddrs(), ","))
	if c.CAFile != "" {
		line += " ca=" + c.CAFile
	}
	fmt.Fprintln(g.stdout, line)
	<-cmd.Context().Done()
	fmt.Fprintln(g.stdout, "dev-cluster stopping")
	return nil
}

// runStandins runs a cluster for each cluster of the configuration at path
// that aliases names (all when none), and writes the secrets that reach
// them under secretsDir once they run.
func runStandins(cmd *cobra.Command, g *globals, path, secretsDir string, aliases []string, base devcluster.Options) error {
	cfg, err := config.Load(path, config.Options{Unresolved: true})
	if err != nil {
		return &exitError{code: ExitFailure, err: err}
	}
	ss, err := devcluster.Standins(cfg, aliases, base)
	if err != nil {
		return &exitError{code: ExitFailure, err: err}
	}
	var running []*devcluster.Cluster
	defer func() {
		for _, c := range running {
			c.Close()
		}
	}()
	for _, s := range ss {
		c, err := devcluster.Start(s.Options)
		if err != nil {
			return &exitError{code: ExitFailure, err: fmt.Errorf("cluster %q on %s (its bootstrap servers must be addresses of this machine): %w",
				s.Alias, strings.Join(s.Options.Listen, ","), err)}
		}
		running = append(running, c)
	}
	if err := devcluster.WriteSecrets(secretsDir, ss); err != nil {
		return &exitError{code: ExitFailure, err: fmt.Errorf("--secrets-dir: %w", err)}
	}
	for i, s := range ss {
		fmt.Fprintf(g.stdout, "dev-cluster ready: cluster=%s brokers=%s\n", s.Alias, strings.Join(running[i].ListenAddrs(), ","))
	}
	fmt.Fprintf(g.stdout, "secrets in %s; next: kmirror preflight -c %s --secrets-dir %s\n", secretsDir, path, secretsDir)
	<-cmd.Context().Done()
	fmt.Fprintln(g.stdout, "dev-cluster stopping")
	return nil
}
