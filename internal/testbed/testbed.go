// Package testbed prepares what kmirror's tests run against: Kubernetes
// secrets mounted as files, certificates, kfake clusters, an OAuth 2.0
// authorization server, and Apache Kafka brokers and MirrorMaker 2 as
// processes. It is imported by tests and by the
// benchmark harness (LaunchKafka, LaunchMM2).
package testbed

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kmirror/kmirror/internal/pki"
)

// SeedPassword is the target password SeedSecrets writes.
const SeedPassword = "target-s3cret"

// SeedSecrets writes the Kubernetes secrets the seed's KafkaMirrorMaker2
// names, as mounted files DIR/<secretName>/<key>, and returns DIR and the CA
// that signed the certificates.
func SeedSecrets(t testing.TB) (string, *pki.CA) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue("kafka.mm2.migration-user")
	if err != nil {
		t.Fatal(err)
	}
	WriteFiles(t, dir, map[string][]byte{
		"my-source-cluster-cluster-ca-cert/ca.crt": ca.PEM,
		"my-target-cluster-cluster-ca-cert/ca.crt": ca.PEM,
		"mm2-source-cluster/tls.crt":               client.CertPEM,
		"mm2-source-cluster/tls.key":               client.KeyPEM,
		"mm2-target-cluster/password":              []byte(SeedPassword + "\n"),
	})
	return dir, ca
}

// WriteFiles writes files (relative names) under dir.
func WriteFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
