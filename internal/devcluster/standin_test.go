package devcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kmirror/kmirror/internal/config"
)

// seedLike is the seed's two clusters (mutual TLS to the source, SCRAM
// over TLS to the target) in the native format.
const seedLike = `connectCluster: target
clusters:
  - alias: source
    bootstrapServers: 127.0.0.1:19093
    tls:
      trustedCertificates:
        - secretName: source-ca
          certificate: ca.crt
    authentication:
      type: tls
      certificateAndKey:
        secretName: mm2-source
        certificate: tls.crt
        key: tls.key
  - alias: target
    bootstrapServers: 127.0.0.1:29093
    tls:
      trustedCertificates:
        - secretName: target-ca
          pattern: "*.crt"
    authentication:
      type: scram-sha-512
      username: kafka.mm2.migration-user
      passwordSecret:
        secretName: mm2-target
        password: password
mirrors:
  - sourceCluster: source
    targetCluster: target
`

// load writes a configuration and loads it as dev-cluster does.
func load(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kmirror.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{Unresolved: true})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The stand-ins of the seed's clusters take exactly the credentials of
// the secrets they make up: the source a client certificate its CA
// signed, the target the SCRAM user's password, both over TLS.
func TestStandinsTakeTheirSecrets(t *testing.T) {
	ss, err := Standins(load(t, seedLike), nil, Options{Brokers: 2, Topics: []string{"app1-t1:2"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := WriteSecrets(dir, ss); err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
			if info, _ := d.Info(); info.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", rel, info.Mode().Perm())
			}
		}
		return err
	})
	if want := []string{marker, "mm2-source/tls.crt", "mm2-source/tls.key", "mm2-target/password", "source-ca/ca.crt", "target-ca/ca.crt"}; err != nil || !slices.Equal(files, want) {
		t.Fatalf("secrets %q (%v), want %q", files, err, want)
	}
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	for i, want := range []string{"127.0.0.1:19093", "127.0.0.1:29093"} {
		if !slices.Equal(ss[i].Options.Listen, []string{want}) {
			t.Errorf("%s listens on %q, want its bootstrap server %s", ss[i].Alias, ss[i].Options.Listen, want)
		}
		// The test's own: free ports.
		ss[i].Options.Listen = []string{"127.0.0.1:0"}
	}
	source, target := start(t, ss[0]), start(t, ss[1])
	if n := len(source.ListenAddrs()); n != 2 {
		t.Errorf("the source has %d brokers, want 2", n)
	}
	trust := func(name string) *tls.Config {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(read(name)) {
			t.Fatalf("no certificate in %s", name)
		}
		return &tls.Config{RootCAs: pool}
	}
	withCert := trust("source-ca/ca.crt")
	pair, err := tls.X509KeyPair(read("mm2-source/tls.crt"), read("mm2-source/tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	withCert.Certificates = []tls.Certificate{pair}
	password := strings.TrimSpace(string(read("mm2-target/password")))
	scramAs := func(pw string) kgo.Opt {
		return kgo.SASL(scram.Auth{User: "kafka.mm2.migration-user", Pass: pw}.AsSha512Mechanism())
	}
	for _, c := range []struct {
		name string
		c    *Cluster
		opts []kgo.Opt
		ok   bool
	}{
		{"the source with the client certificate", source, []kgo.Opt{kgo.DialTLSConfig(withCert)}, true},
		{"the source without a client certificate", source, []kgo.Opt{kgo.DialTLSConfig(trust("source-ca/ca.crt"))}, false},
		{"the source trusting the target's CA", source, []kgo.Opt{kgo.DialTLSConfig(trust("target-ca/ca.crt"))}, false},
		{"the target with the password", target, []kgo.Opt{kgo.DialTLSConfig(trust("target-ca/ca.crt")), scramAs(password)}, true},
		{"the target with another password", target, []kgo.Opt{kgo.DialTLSConfig(trust("target-ca/ca.crt")), scramAs(password + "x")}, false},
		{"the target without TLS", target, []kgo.Opt{scramAs(password)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := kgo.NewClient(append(c.opts, kgo.SeedBrokers(c.c.ListenAddrs()...), kgo.RetryTimeout(time.Second))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			md, err := kadm.NewClient(cl).Metadata(ctx)
			if c.ok && (err != nil || len(md.Topics["app1-t1"].Partitions) != 2) {
				t.Errorf("metadata: %v, topics %v", err, slices.Collect(maps.Keys(md.Topics)))
			}
			if !c.ok && err == nil {
				t.Error("connected")
			}
		})
	}
}

func start(t *testing.T, s Standin) *Cluster {
	t.Helper()
	c, err := Start(s.Options)
	if err != nil {
		t.Fatalf("start %s: %v", s.Alias, err)
	}
	t.Cleanup(c.Close)
	return c
}

// Standins picks clusters by alias, and refuses what it cannot make up,
// naming where the configuration says it.
func TestStandinsPickAndRefuse(t *testing.T) {
	ss, err := Standins(load(t, seedLike), []string{"target"}, Options{})
	if err != nil || len(ss) != 1 || ss[0].Alias != "target" || len(ss[0].Secrets) != 2 || ss[0].Options.ClientAuth {
		t.Errorf("--cluster target: %v, %+v", err, ss)
	}
	for _, c := range []struct{ name, config, want string }{
		{"an alias it does not have", seedLike, `has no cluster "nope"`},
		{"a password file", strings.Replace(seedLike, `passwordSecret:
        secretName: mm2-target
        password: password`, "passwordFile: /etc/pw", 1),
			"clusters[1].authentication.passwordFile (line 24): file /etc/pw: dev-cluster makes up Kubernetes secrets only"},
		{"a pattern that misses ca.crt", strings.Replace(seedLike, `"*.crt"`, `"*.pem"`, 1),
			`clusters[1].tls.trustedCertificates[0].pattern (line 20): the pattern "*.pem" does not match ca.crt`},
		{"the system's CAs", strings.Replace(seedLike, `    tls:
      trustedCertificates:
        - secretName: target-ca
          pattern: "*.crt"
`, "    tls: {}\n", 1), `cluster "target": its TLS trusts the system's certificate authorities`},
		{"OAuth", strings.Replace(seedLike, `      type: scram-sha-512
      username: kafka.mm2.migration-user
      passwordSecret:
        secretName: mm2-target
        password: password`, `      type: oauth
      tokenEndpointUri: https://sso.example.com/token
      clientId: kmirror
      clientSecret:
        secretName: kmirror-oauth
        key: secret`, 1), `cluster "target": dev-cluster cannot stand in for OAuth`},
		{"a secret two clusters name", strings.Replace(seedLike, "secretName: target-ca\n          pattern: \"*.crt\"", "secretName: source-ca\n          certificate: ca.crt", 1),
			`secret source-ca/ca.crt is named by clusters "source" and "target"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			aliases := []string(nil)
			if strings.Contains(c.want, "nope") {
				aliases = []string{"nope"}
			}
			_, err := Standins(load(t, c.config), aliases, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
}

// WriteSecrets writes into a new, empty or earlier directory of its own,
// and never into one that holds other files.
func TestWriteSecretsKeepsOthers(t *testing.T) {
	ss := []Standin{{Alias: "a", Secrets: map[string][]byte{"s/k": []byte("v")}}}
	dir := t.TempDir()
	if err := WriteSecrets(dir, ss); err != nil {
		t.Fatalf("an empty directory: %v", err)
	}
	if err := WriteSecrets(dir, ss); err != nil {
		t.Fatalf("its own directory again: %v", err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "real"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecrets(other, ss); err == nil || !strings.Contains(err.Error(), "holds files dev-cluster did not make") {
		t.Errorf("a directory with other files: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "s")); err == nil {
		t.Error("wrote into a directory with other files")
	}
}
