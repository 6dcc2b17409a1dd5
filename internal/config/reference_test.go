package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kmirror/kmirror/internal/config"
)

// TestUnresolvedSeed: unresolved, the seed's resource loads without its
// secrets, and names each secret key it would read, what it holds, and
// where it names it.
func TestUnresolvedSeed(t *testing.T) {
	cfg, err := config.Load("testdata/seed-kmm2.yaml", config.Options{Unresolved: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Reference{
		{Kind: config.RefSecret, Cluster: "my-source-cluster", Name: "my-source-cluster-cluster-ca-cert", Key: "ca.crt", Use: config.UseTrust, At: "spec.clusters[0].tls.trustedCertificates[0].certificate (line 17)"},
		{Kind: config.RefSecret, Cluster: "my-source-cluster", Name: "mm2-source-cluster", Key: "tls.crt", Use: config.UseCertificate, At: "spec.clusters[0].authentication.certificateAndKey.certificate (line 21)"},
		{Kind: config.RefSecret, Cluster: "my-source-cluster", Name: "mm2-source-cluster", Key: "tls.key", Use: config.UseKey, At: "spec.clusters[0].authentication.certificateAndKey.key (line 22)"},
		{Kind: config.RefSecret, Cluster: "my-target-cluster", Name: "my-target-cluster-cluster-ca-cert", Key: "ca.crt", Use: config.UseTrust, At: "spec.clusters[1].tls.trustedCertificates[0].certificate (line 29)"},
		{Kind: config.RefSecret, Cluster: "my-target-cluster", Name: "mm2-target-cluster", Key: "password", Use: config.UsePassword, At: "spec.clusters[1].authentication.passwordSecret.password (line 34)"},
	}
	if !reflect.DeepEqual(cfg.References, want) {
		t.Errorf("references:\n%#v\nwant:\n%#v", cfg.References, want)
	}
	if cfg.Name != "my-mirror-maker-2" || cfg.Namespace != "" || cfg.Replicas != 2 {
		t.Errorf("name %q namespace %q replicas %d", cfg.Name, cfg.Namespace, cfg.Replicas)
	}
	if src := cfg.Cluster("my-source-cluster"); src.TLS == nil || src.TLS.Certificate != nil {
		t.Errorf("unresolved, the source has TLS without its certificate: %+v", src.TLS)
	}

	// The document read back is the same configuration, secrets and all.
	again, err := config.Parse(filepath.Join(t.TempDir(), "again.yaml"), cfg.Document, config.Options{Unresolved: true})
	if err != nil {
		t.Fatalf("the document does not load again: %v\n%s", err, cfg.Document)
	}
	if !reflect.DeepEqual(again.References, cfg.References) || !reflect.DeepEqual(again.Flows, cfg.Flows) || again.Name != cfg.Name {
		t.Errorf("the document loads differently:\n%s", cfg.Document)
	}
	if slices.Contains(cfg.Document, 0xa0) {
		t.Error("the document keeps non-breaking spaces")
	}
}

// TestUnresolvedNative: files, environment variables and inline passwords
// are references too, so that a caller can refuse what it cannot carry.
func TestUnresolvedNative(t *testing.T) {
	path := "testdata/local-references.yaml"
	cfg, err := config.Load(path, config.Options{Unresolved: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Reference{
		{Kind: config.RefSecret, Cluster: "a", Name: "a-ca", Key: "*.crt", Use: config.UseTrust, At: "clusters[0].tls.trustedCertificates[0].pattern (line 12)"},
		{Kind: config.RefFile, Cluster: "a", Name: "/etc/ca.pem", At: "clusters[0].tls.caFile (line 9)"},
		{Kind: config.RefEnv, Cluster: "a", Name: "A_PASSWORD", At: "clusters[0].authentication.passwordEnv (line 16)"},
		{Kind: config.RefInline, Cluster: "b", At: "clusters[1].authentication.password (line 22)"},
	}
	if !reflect.DeepEqual(cfg.References, want) {
		t.Errorf("references:\n%#v\nwant:\n%#v", cfg.References, want)
	}
	if cfg.Format != config.FormatNative || len(cfg.Document) == 0 {
		t.Errorf("format %s, document %q", cfg.Format, cfg.Document)
	}

	// Resolved, nothing is recorded.
	if _, err := config.Load(path, config.Options{}); err == nil {
		t.Error("resolved, the missing file and variable are no error")
	}
}

// TestDocumentWithoutClusterState: a resource exported with kubectl keeps,
// in its document, what its author wrote and not what the cluster added.
func TestDocumentWithoutClusterState(t *testing.T) {
	seed, err := os.ReadFile("testdata/seed-kmm2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// kubectl writes plain spaces where the article had non-breaking ones.
	plain := strings.ReplaceAll(string(seed), "\u00a0", " ")
	exported := strings.Replace(plain, "metadata:\n  name: my-mirror-maker-2\n", `metadata:
  name: my-mirror-maker-2
  namespace: kafka
  labels:
    team: payments
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"spec":{}}'
  uid: 0b5f5c6e-1111-2222-3333-444455556666
  resourceVersion: "123456"
  managedFields:
    - manager: kubectl
`, 1) + "status:\n  conditions:\n    - type: Ready\n      status: \"True\"\n"
	if exported == plain+"status:\n  conditions:\n    - type: Ready\n      status: \"True\"\n" {
		t.Fatal("the metadata was not found to extend")
	}
	cfg, err := config.Parse("exported.yaml", []byte(exported), config.Options{Unresolved: true})
	if err != nil {
		t.Fatal(err)
	}
	doc := string(cfg.Document)
	for _, gone := range []string{"last-applied", "uid:", "resourceVersion", "managedFields", "status:", "conditions"} {
		if strings.Contains(doc, gone) {
			t.Errorf("the document keeps %q:\n%s", gone, doc)
		}
	}
	for _, kept := range []string{"name: my-mirror-maker-2", "namespace: kafka", "team: payments", "tasksMax: 32 # (9)"} {
		if !strings.Contains(doc, kept) {
			t.Errorf("the document lost %q:\n%s", kept, doc)
		}
	}
	if cfg.Namespace != "kafka" {
		t.Errorf("namespace %q", cfg.Namespace)
	}
	if resolved, err := config.Load("testdata/seed-kmm2.yaml", config.Options{SecretsDir: seedSecrets(t)}); err != nil || resolved.Document != nil {
		t.Errorf("resolved, the document is kept (%v)", err)
	}
}

// TestSecretsWithoutDir: without a secrets directory, offline loading
// records each secret as not checked and keeps the clusters' shape; with
// --strict each is an error; loading to connect fails in one error naming
// the first. A secrets directory that lacks a key is an error either way.
func TestSecretsWithoutDir(t *testing.T) {
	const seed = "testdata/seed-kmm2.yaml"
	partial := seedSecrets(t)
	if err := os.Remove(filepath.Join(partial, "mm2-source-cluster", "tls.key")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		opts   config.Options
		refs   int      // secrets recorded, when it loads
		errors []string // each one diagnostic of the error; none: it loads
	}{
		{name: "offline", opts: config.Options{Offline: true}, refs: 5},
		{name: "offline with secrets", opts: config.Options{Offline: true, SecretsDir: seedSecrets(t)}},
		{name: "offline strict", opts: config.Options{Offline: true, Strict: true}, errors: []string{
			`line 6: 1210 non-breaking spaces (U+00A0), as in text copied from a web page, are read as spaces (--strict)`,
			`spec.clusters[0].tls.trustedCertificates[0].certificate (line 17): secret my-source-cluster-cluster-ca-cert/ca.crt: not checked (no --secrets-dir) (--strict)`,
			`spec.clusters[0].authentication.certificateAndKey.certificate (line 21): secret mm2-source-cluster/tls.crt: not checked (no --secrets-dir) (--strict)`,
			`spec.clusters[0].authentication.certificateAndKey.key (line 22): secret mm2-source-cluster/tls.key: not checked (no --secrets-dir) (--strict)`,
			`spec.clusters[1].tls.trustedCertificates[0].certificate (line 29): secret my-target-cluster-cluster-ca-cert/ca.crt: not checked (no --secrets-dir) (--strict)`,
			`spec.clusters[1].authentication.passwordSecret.password (line 34): secret mm2-target-cluster/password: not checked (no --secrets-dir) (--strict)`,
			`spec.clusters[1].config."producer.ack" (line 46): unknown key, ignored; did you mean producer.acks? (--strict)`,
			`spec.clusters[1].config.offset_flush_timeout (line 53): unknown key, ignored; did you mean offset.flush.timeout.ms? (--strict)`,
			`spec.clusters[1].config.task_shutdown_graceful_timeout_ms (line 54): unknown key, ignored; did you mean task.shutdown.graceful.timeout.ms? (--strict)`,
		}},
		{name: "to connect", opts: config.Options{}, errors: []string{
			`cluster "my-source-cluster": secret my-source-cluster-cluster-ca-cert/ca.crt and 4 more: not read (no --secrets-dir given); commands that connect (run, plan, preflight, …) need --secrets-dir DIR`,
		}},
		{name: "to connect, strict", opts: config.Options{Strict: true}, errors: []string{
			`line 6: 1210 non-breaking spaces (U+00A0), as in text copied from a web page, are read as spaces (--strict)`,
			`cluster "my-source-cluster": secret my-source-cluster-cluster-ca-cert/ca.crt and 4 more: not read (no --secrets-dir given); commands that connect (run, plan, preflight, …) need --secrets-dir DIR`,
			`spec.clusters[1].config."producer.ack" (line 46): unknown key, ignored; did you mean producer.acks? (--strict)`,
			`spec.clusters[1].config.offset_flush_timeout (line 53): unknown key, ignored; did you mean offset.flush.timeout.ms? (--strict)`,
			`spec.clusters[1].config.task_shutdown_graceful_timeout_ms (line 54): unknown key, ignored; did you mean task.shutdown.graceful.timeout.ms? (--strict)`,
		}},
		{name: "offline, a key missing", opts: config.Options{Offline: true, SecretsDir: partial}, errors: []string{
			`spec.clusters[0].authentication.certificateAndKey.key (line 22): secret "mm2-source-cluster" key "tls.key": ` + filepath.Join(partial, "mm2-source-cluster", "tls.key") + `: no such file or directory`,
		}},
		{name: "to connect, a key missing", opts: config.Options{SecretsDir: partial}, errors: []string{
			`spec.clusters[0].authentication.certificateAndKey.key (line 22): secret "mm2-source-cluster" key "tls.key": ` + filepath.Join(partial, "mm2-source-cluster", "tls.key") + `: no such file or directory`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(seed, tt.opts)
			if len(tt.errors) > 0 {
				var cerr *config.Error
				if !errors.As(err, &cerr) {
					t.Fatalf("Load = %v, want a *config.Error", err)
				}
				var got []string
				for _, d := range cerr.Errors {
					got = append(got, d.String())
				}
				if !slices.Equal(got, tt.errors) {
					t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.errors, "\n"))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.References) != tt.refs {
				t.Errorf("%d references, want %d: %v", len(cfg.References), tt.refs, cfg.References)
			}
			// Read or not, the clusters say how kmirror authenticates.
			src, tgt := cfg.Cluster("my-source-cluster"), cfg.Cluster("my-target-cluster")
			if !src.TLS.MutualTLS() || src.TLS.CertificateSecret != "mm2-source-cluster" || (src.TLS.Certificate == nil) != (tt.refs > 0) {
				t.Errorf("source TLS: %+v", src.TLS)
			}
			if !slices.Equal(src.TLS.CAs, []string{"secret my-source-cluster-cluster-ca-cert/ca.crt"}) || (src.TLS.RootCAs == nil) != (tt.refs > 0) {
				t.Errorf("source trust: %v", src.TLS.CAs)
			}
			if tgt.SASL == nil || tgt.SASL.Mechanism != config.MechanismSCRAMSHA512 || tgt.SASL.Username != "kafka.mm2.migration-user" || tgt.SASL.Password.IsZero() != (tt.refs > 0) {
				t.Errorf("target SASL: %+v", tgt.SASL)
			}
		})
	}
}
