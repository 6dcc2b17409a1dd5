package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/pki"
	"github.com/kmirror/kmirror/internal/testbed"
)

// testPKI is a CA, a broker certificate for host, and a client certificate.
type testPKI struct {
	ca             *pki.CA
	broker, client *pki.Pair
}

func newPKI(t *testing.T, host string) testPKI {
	t.Helper()
	ca, err := pki.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	broker, err := ca.Issue("broker", host)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue("mirror")
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{ca: ca, broker: broker, client: client}
}

func (p testPKI) serverTLS(mutual bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.broker.TLS}, MinVersion: tls.VersionTLS12}
	if mutual {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = x509.NewCertPool()
		cfg.ClientCAs.AddCert(p.ca.Cert)
	}
	return cfg
}

func (p testPKI) clientTLS(withCert bool) *config.TLS {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	t := &config.TLS{RootCAs: pool}
	if withCert {
		c := p.client.TLS
		t.Certificate = &c
	}
	return t
}

func startCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID("test-cluster")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// startClient starts a one-broker kfake cluster, and returns a client of
// it and a context of a minute, both ended with the test.
func startClient(t *testing.T) (context.Context, *kgo.Client) {
	t.Helper()
	addrs := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return ctx, cl
}

func TestCheck(t *testing.T) {
	p := newPKI(t, "127.0.0.1")
	other := newPKI(t, "127.0.0.1")
	nameOnly := newPKI(t, "kafka.example")
	plainAddrs := startCluster(t)
	tlsAddrs := startCluster(t, kfake.TLS(p.serverTLS(false)))
	mtlsAddrs := startCluster(t, kfake.TLS(p.serverTLS(true)))
	nameAddrs := startCluster(t, kfake.TLS(nameOnly.serverTLS(false)))
	scramAddrs := startCluster(t, kfake.TLS(p.serverTLS(false)), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "mirror", "right-password"))
	plainSASLAddrs := startCluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "mirror", "right-password"))

	skip := nameOnly.clientTLS(false)
	skip.SkipHostnameVerification = true
	tests := []struct {
		name    string
		cluster config.Cluster
		reason  string // "" for success
	}{
		{"plaintext", config.Cluster{Bootstrap: plainAddrs}, ""},
		{"tls", config.Cluster{Bootstrap: tlsAddrs, TLS: p.clientTLS(false)}, ""},
		{"mutual tls", config.Cluster{Bootstrap: mtlsAddrs, TLS: p.clientTLS(true)}, ""},
		{"mutual tls without a client certificate", config.Cluster{Bootstrap: mtlsAddrs, TLS: p.clientTLS(false)},
			"the broker rejected the client certificate"},
		{"untrusted CA", config.Cluster{Bootstrap: tlsAddrs, TLS: other.clientTLS(false)},
			"the broker's certificate is not signed by a trusted CA"},
		{"hostname mismatch", config.Cluster{Bootstrap: nameAddrs, TLS: nameOnly.clientTLS(false)},
			"the broker's certificate does not match its address"},
		{"hostname verification off", config.Cluster{Bootstrap: nameAddrs, TLS: skip}, ""},
		{"server name", config.Cluster{Bootstrap: nameAddrs, TLS: &config.TLS{RootCAs: nameOnly.clientTLS(false).RootCAs, ServerName: "kafka.example"}}, ""},
		{"tls client, plaintext broker", config.Cluster{Bootstrap: plainAddrs, TLS: p.clientTLS(false)},
			"no TLS handshake completed: is this a plaintext listener?"},
		{"scram-sha-512 over tls", config.Cluster{Bootstrap: scramAddrs, TLS: p.clientTLS(false),
			SASL: &config.SASL{Mechanism: config.MechanismSCRAMSHA512, Username: "mirror", Password: config.NewSecret("right-password")}}, ""},
		{"scram-sha-512 wrong password", config.Cluster{Bootstrap: scramAddrs, TLS: p.clientTLS(false),
			SASL: &config.SASL{Mechanism: config.MechanismSCRAMSHA512, Username: "mirror", Password: config.NewSecret("wrong-password")}},
			`authentication failed (SCRAM-SHA-512 as user "mirror"): check the username and password`},
		{"scram-sha-256 user unknown", config.Cluster{Bootstrap: scramAddrs, TLS: p.clientTLS(false),
			SASL: &config.SASL{Mechanism: config.MechanismSCRAMSHA256, Username: "mirror", Password: config.NewSecret("right-password")}},
			`authentication failed (SCRAM-SHA-256 as user "mirror")`},
		{"plain", config.Cluster{Bootstrap: plainSASLAddrs,
			SASL: &config.SASL{Mechanism: config.MechanismPlain, Username: "mirror", Password: config.NewSecret("right-password")}}, ""},
		{"sasl broker, no sasl", config.Cluster{Bootstrap: plainSASLAddrs}, "does this listener need"},
		{"unreachable", config.Cluster{Bootstrap: []string{"127.0.0.1:1"}}, "cannot reach 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cluster
			c.Alias, c.ClientID = "my-cluster", "kmirror-test"
			info, err := Check(context.Background(), &c, Connect{Timeout: 5 * time.Second})
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if info.ClusterID != "test-cluster" || info.Brokers != 1 {
					t.Errorf("info %+v", info)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Check = %v, want a *cluster.Error", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `cluster "my-cluster": `) || !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q\nwant it to name the cluster and say %q", msg, tt.reason)
			}
			if strings.Contains(msg, "password\"") || strings.Contains(msg, "-password") {
				t.Errorf("error shows a password: %s", msg)
			}
		})
	}
}

// A broker that accepts connections and never answers: the check says it
// still waits after StillWaitingAfter, then fails at its timeout with one
// error that names the cluster and the address.
func TestCheckSilentBroker(t *testing.T) {
	addr := testbed.SilentBroker(t)
	var log bytes.Buffer
	var mu sync.Mutex
	c := config.Cluster{Alias: "quiet", ClientID: "kmirror-test", Bootstrap: []string{addr}}
	timeout := StillWaitingAfter + time.Second
	_, err := Check(context.Background(), &c, Connect{Timeout: timeout, Log: slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))})
	want := fmt.Sprintf(`cluster "quiet": connected to %s, but no answer came within %s`, addr, timeout)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Check = %v\nwant %q…", err, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Count(log.String(), fmt.Sprintf("still waiting for quiet at %s", addr)); got != 1 {
		t.Errorf("%d notices that the check still waits, want 1:\n%s", got, log.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestClientOptionsAreAccepted(t *testing.T) {
	for _, p := range []config.Producer{
		{Acks: "all", Idempotent: true, BatchSize: 1000012, MaxRequestSize: 104857600, BufferMemory: 1 << 25, Compression: "gzip", MaxInFlight: 5, Retries: -1},
		{Acks: "1", BatchSize: 2000000, MaxRequestSize: 2000000, BufferMemory: 225000000, Compression: "zstd", MaxInFlight: 1, Retries: 3, DeliveryTimeout: time.Minute},
	} {
		opts := append(ProducerOptions(p), ConsumerOptions(config.Consumer{FetchMaxBytes: 1 << 20, MaxPartitionFetchBytes: 1 << 20, FetchMinBytes: 1, FetchMaxWait: time.Second, ReadCommitted: true})...)
		cl, err := kgoClient(opts)
		if err != nil {
			t.Errorf("franz-go rejects the options of %+v: %v", p, err)
			continue
		}
		cl.Close()
	}
}
