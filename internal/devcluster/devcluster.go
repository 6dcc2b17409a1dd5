// Package devcluster runs a local Kafka-protocol cluster (franz-go's kfake)
// for trying kmirror out, for the demo, and for tests that need brokers in
// a separate process: listen addresses, broker count, SASL users, ACLs,
// TLS (with client certificates) and a data directory for persistence
// across restarts. Standins makes dev clusters that stand for the
// clusters of a configuration, with the secrets it names made up.
package devcluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kmirror/kmirror/internal/pki"
)

// Options describe a dev cluster.
type Options struct {
	// Listen holds one host:port per broker; with one address and several
	// brokers, the following ports are used. Port 0 picks free ports.
	Listen    []string
	Brokers   int
	ClusterID string
	// Superusers and Users are "MECHANISM:user:password", MECHANISM one of
	// PLAIN, SCRAM-SHA-256, SCRAM-SHA-512. Any user turns SASL on.
	Superusers []string
	Users      []string
	ACLs       bool
	// TLS turns on TLS with a certificate made at start, signed by CA
	// (made at start when nil), which is written to CAFile (when CA is
	// nil, DataDir/ca.crt or a temporary file by default).
	TLS    bool
	CA     *pki.CA
	CAFile string
	// ClientAuth, with TLS, requires every client to present a
	// certificate signed by the CA (mutual TLS). kfake authorizes SASL
	// users only: a client so authenticated is not subject to ACLs.
	ClientAuth bool
	// DataDir keeps the cluster's data across restarts.
	DataDir string
	// Topics are "name" or "name:partitions", created at start.
	Topics []string
}

// Cluster is a running dev cluster.
type Cluster struct {
	*kfake.Cluster
	// CAFile holds the CA certificate when TLS is on.
	CAFile string
}

// Start starts the cluster.
func Start(o Options) (*Cluster, error) {
	if o.Brokers < 1 {
		o.Brokers = max(1, len(o.Listen))
	}
	if len(o.Listen) == 0 {
		o.Listen = []string{"127.0.0.1:0"}
	}
	host, ports, err := listenPorts(o.Listen, o.Brokers)
	if err != nil {
		return nil, err
	}
	sasl := len(o.Superusers)+len(o.Users) > 0
	var tlsConfig *tls.Config
	caFile := ""
	switch {
	case o.TLS:
		if tlsConfig, caFile, err = serverTLS(host, o); err != nil {
			return nil, err
		}
	case o.ClientAuth:
		return nil, errors.New("client certificates need TLS")
	}
	// TLS is served here rather than with kfake.TLS so that, with SASL,
	// handshakeListener sees the protocol above it (see handshake.go).
	opts := []kfake.Opt{kfake.NumBrokers(o.Brokers), kfake.Ports(ports...),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, port, _ := net.SplitHostPort(address)
			ln, err := net.Listen(network, net.JoinHostPort(host, port))
			if err != nil {
				return nil, err
			}
			if tlsConfig != nil {
				ln = tls.NewListener(ln, tlsConfig)
			}
			if sasl {
				ln = handshakeListener{ln}
			}
			return ln, nil
		})}
	if o.ClusterID != "" {
		opts = append(opts, kfake.ClusterID(o.ClusterID))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if o.ACLs {
		opts = append(opts, kfake.EnableACLs())
	}
	if sasl {
		opts = append(opts, kfake.EnableSASL())
	} else if o.ACLs {
		return nil, errors.New("--acls needs at least one --superuser to manage them")
	}
	for _, s := range o.Superusers {
		m, u, p, err := parseUser(s)
		if err != nil {
			return nil, fmt.Errorf("--superuser: %w", err)
		}
		opts = append(opts, kfake.Superuser(m, u, p))
	}
	for _, s := range o.Users {
		m, u, p, err := parseUser(s)
		if err != nil {
			return nil, fmt.Errorf("--user: %w", err)
		}
		opts = append(opts, kfake.User(m, u, p))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	for _, t := range o.Topics {
		name, parts, err := parseTopic(t)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("--topic: %w", err)
		}
		if c.TopicInfo(name) == nil {
			if err := c.CreateTopic(name, parts, nil); err != nil {
				c.Close()
				return nil, fmt.Errorf("create topic %q: %w", name, err)
			}
		}
	}
	return &Cluster{Cluster: c, CAFile: caFile}, nil
}

func listenPorts(listen []string, brokers int) (string, []int, error) {
	var host string
	var ports []int
	for _, l := range listen {
		h, p, err := net.SplitHostPort(l)
		if err != nil {
			return "", nil, fmt.Errorf("--listen %q is not host:port", l)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return "", nil, fmt.Errorf("--listen %q has an invalid port", l)
		}
		if host != "" && h != host {
			return "", nil, errors.New("--listen addresses must share one host")
		}
		if h == "" || h == "0.0.0.0" || h == "::" {
			return "", nil, fmt.Errorf("--listen %q: give the address clients reach the brokers at, not a wildcard", l)
		}
		host = h
		ports = append(ports, n)
	}
	for len(ports) < brokers {
		next := 0
		if last := ports[len(ports)-1]; last != 0 {
			next = last + 1
		}
		ports = append(ports, next)
	}
	if len(ports) > brokers {
		return "", nil, fmt.Errorf("%d --listen addresses for %d brokers", len(ports), brokers)
	}
	return host, ports, nil
}

func parseUser(s string) (mech, user, pass string, err error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", "", errors.New("expected MECHANISM:user:password")
	}
	mech = strings.ToUpper(parts[0])
	switch mech {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return "", "", "", fmt.Errorf("mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", parts[0])
	}
	return mech, parts[1], parts[2], nil
}

func parseTopic(s string) (string, int32, error) {
	name, p, ok := strings.Cut(s, ":")
	if name == "" {
		return "", 0, errors.New("empty topic name")
	}
	if !ok {
		return name, -1, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 {
		return "", 0, fmt.Errorf("%q: partitions must be a positive integer", s)
	}
	return name, int32(n), nil
}

// serverTLS makes a broker certificate for host, signed by o.CA or a CA
// made here, and writes the CA where clients can find it: o.CAFile, or
// when the CA is made here, a file of its own.
func serverTLS(host string, o Options) (*tls.Config, string, error) {
	ca, caFile := o.CA, o.CAFile
	if ca == nil {
		var err error
		if ca, err = pki.NewCA("kmirror dev-cluster CA"); err != nil {
			return nil, "", err
		}
		if caFile == "" {
			dir := o.DataDir
			if dir == "" {
				if dir, err = os.MkdirTemp("", "kmirror-dev-cluster-"); err != nil {
					return nil, "", err
				}
			}
			caFile = filepath.Join(dir, "ca.crt")
		}
	}
	names := []string{host}
	if host != "localhost" {
		names = append(names, "localhost")
	}
	broker, err := ca.Issue("kmirror dev-cluster broker", names...)
	if err != nil {
		return nil, "", err
	}
	if caFile != "" {
		if err := os.MkdirAll(filepath.Dir(caFile), 0o755); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
			return nil, "", fmt.Errorf("write CA: %w", err)
		}
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{broker.TLS}, MinVersion: tls.VersionTLS12}
	if o.ClientAuth {
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, pool
	}
	return cfg, caFile, nil
}
