package config_test

import (
	"path/filepath"
	"reflect"
	"slices"
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
