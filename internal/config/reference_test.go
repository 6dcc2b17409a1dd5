package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kmirror/kmirror/internal/config"
)

// TestUnresolvedSeed: unresolved, the seed's resource loads without its
// secrets, and names each secret key it would read, where it names it.
func TestUnresolvedSeed(t *testing.T) {
	cfg, err := config.Load("testdata/seed-kmm2.yaml", config.Options{Unresolved: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Reference{
		{Kind: config.RefSecret, Name: "my-source-cluster-cluster-ca-cert", Key: "ca.crt", At: "spec.clusters[0].tls.trustedCertificates[0].certificate (line 17)"},
		{Kind: config.RefSecret, Name: "mm2-source-cluster", Key: "tls.crt", At: "spec.clusters[0].authentication.certificateAndKey.certificate (line 21)"},
		{Kind: config.RefSecret, Name: "mm2-source-cluster", Key: "tls.key", At: "spec.clusters[0].authentication.certificateAndKey.key (line 22)"},
		{Kind: config.RefSecret, Name: "my-target-cluster-cluster-ca-cert", Key: "ca.crt", At: "spec.clusters[1].tls.trustedCertificates[0].certificate (line 29)"},
		{Kind: config.RefSecret, Name: "mm2-target-cluster", Key: "password", At: "spec.clusters[1].authentication.passwordSecret.password (line 34)"},
	}
	if !reflect.DeepEqual(cfg.References, want) {
		t.Errorf("references:\n%+v\nwant:\n%+v", cfg.References, want)
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
		{Kind: config.RefSecret, Name: "a-ca", Key: "*.crt", At: "clusters[0].tls.trustedCertificates[0].pattern (line 12)"},
		{Kind: config.RefFile, Name: "/etc/ca.pem", At: "clusters[0].tls.caFile (line 9)"},
		{Kind: config.RefEnv, Name: "A_PASSWORD", At: "clusters[0].authentication.passwordEnv (line 16)"},
		{Kind: config.RefInline, At: "clusters[1].authentication.password (line 22)"},
	}
	if !reflect.DeepEqual(cfg.References, want) {
		t.Errorf("references:\n%+v\nwant:\n%+v", cfg.References, want)
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
