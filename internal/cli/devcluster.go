package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/devcluster"
)

func devClusterCmd(g *globals) *cobra.Command {
	var o devcluster.Options
	cmd := &cobra.Command{
		Use:   "dev-cluster",
		Short: "Run a local Kafka-protocol cluster for trying kmirror out",
		Long: `Run a local Kafka-protocol cluster (franz-go's kfake) until SIGINT or SIGTERM.
It prints one line, "dev-cluster ready: …", once the brokers accept connections.`,
		Example: `  kmirror dev-cluster --listen 127.0.0.1:9092
  kmirror dev-cluster --listen 127.0.0.1:9092 --brokers 3 --topic orders:12
  kmirror dev-cluster --listen 127.0.0.1:9093 --tls --superuser SCRAM-SHA-512:admin:admin --acls --data-dir /tmp/target`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Listen, "listen", []string{"127.0.0.1:9092"}, "host:port for each broker (port 0 picks a free port; with one address and several brokers, the next ports)")
	f.IntVar(&o.Brokers, "brokers", 0, "number of brokers (default: one per --listen address)")
	f.StringVar(&o.ClusterID, "cluster-id", "", "cluster ID to report")
	f.StringArrayVar(&o.Superusers, "superuser", nil, "SASL superuser MECHANISM:user:password (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); turns SASL on")
	f.StringArrayVar(&o.Users, "user", nil, "SASL user subject to ACLs, MECHANISM:user:password; turns SASL on")
	f.BoolVar(&o.ACLs, "acls", false, "check ACLs (superusers manage them)")
	f.BoolVar(&o.TLS, "tls", false, "serve TLS with a certificate made at start; its CA is written to --ca-file")
	f.StringVar(&o.CAFile, "ca-file", "", "where --tls writes the CA certificate (default DATA-DIR/ca.crt or a temporary directory)")
	f.StringVar(&o.DataDir, "data-dir", "", "keep the cluster's data here across restarts")
	f.StringArrayVar(&o.Topics, "topic", nil, "topic to create at start: name or name:partitions")
	return cmd
}
