package config

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/pki"
	"github.com/kmirror/kmirror/internal/testbed"
	"software.sslmate.com/src/go-pkcs12"
)

// seedSecrets writes the Kubernetes secrets the seed's resource names.
func seedSecrets(t *testing.T) string {
	t.Helper()
	dir, _ := testbed.SeedSecrets(t)
	return dir
}

func diagStrings(ds []Diagnostic) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Level.String() + ": " + d.String()
	}
	return out
}

func TestSeedResource(t *testing.T) {
	cfg, err := Load("testdata/seed-kmm2.yaml", Options{SecretsDir: seedSecrets(t)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []string{
		"warning: line 6: 1210 non-breaking spaces (U+00A0), as in text copied from a web page, are read as spaces",
		"note: spec.replicas (line 9): kmirror starts no processes: run 2 kmirror workers with this configuration to share the work",
		"note: spec.version (line 8): ignored: kmirror speaks to any Kafka version the brokers offer",
		`note: spec.clusters[1].config."config.storage.replication.factor" (line 38): a Kafka Connect key; kmirror has no Connect worker and ignores it`,
		`note: spec.clusters[1].config."offset.storage.replication.factor" (line 39): a Kafka Connect key; kmirror has no Connect worker and ignores it`,
		`note: spec.clusters[1].config."status.storage.replication.factor" (line 40): a Kafka Connect key; kmirror has no Connect worker and ignores it`,
		`warning: spec.clusters[1].config."producer.ack" (line 46): unknown key, ignored; did you mean producer.acks?`,
		`note: spec.clusters[1].config."producer.linger.ms" (line 50): records wait up to 1.5s before they are sent, unless 1 MB of a partition's records is buffered: kmirror's batches do not end at batch.size as MM2's do; kmirror batches well without a linger (0)`,
		`warning: spec.clusters[1].config.offset_flush_timeout (line 53): unknown key, ignored; did you mean offset.flush.timeout.ms?`,
		`warning: spec.clusters[1].config.task_shutdown_graceful_timeout_ms (line 54): unknown key, ignored; did you mean task.shutdown.graceful.timeout.ms?`,
		`note: spec.mirrors[0].checkpointConnector.tasksMax (line 71): accepted; no effect in kmirror: kmirror translates every group of a flow in one loop per worker; the group offsets of a flow are fetched in one request`,
	}
	if got := diagStrings(cfg.Diagnostics); !slices.Equal(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if cfg.Format != FormatStrimzi || cfg.Version != "kafka.strimzi.io/v1beta2" || cfg.Replicas != 2 {
		t.Errorf("format %s %s replicas %d", cfg.Format, cfg.Version, cfg.Replicas)
	}
	src, dst := cfg.Cluster("my-source-cluster"), cfg.Cluster("my-target-cluster")
	if src == nil || dst == nil {
		t.Fatal("clusters missing")
	}
	if src.TLS == nil || src.TLS.Certificate == nil || src.SASL != nil {
		t.Errorf("source: want TLS with a client certificate and no SASL: %+v", src)
	}
	if dst.SASL == nil || dst.SASL.Mechanism != MechanismSCRAMSHA512 || dst.SASL.Username != "kafka.mm2.migration-user" ||
		dst.SASL.Password.Reveal() != "target-s3cret" || dst.TLS == nil || dst.TLS.RootCAs == nil {
		t.Errorf("target: %+v %+v", dst.SASL, dst.TLS)
	}
	if len(cfg.Flows) != 1 {
		t.Fatalf("%d flows", len(cfg.Flows))
	}
	f := cfg.Flows[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"flow", f.Name(), "my-source-cluster->my-target-cluster"},
		{"tasks.max", f.TasksMax, 32},
		{"policy", f.Replication.Name(), "identity"},
		{"remote name", f.Replication.RemoteTopic("my-source-cluster", "app1-t1"), "app1-t1"},
		{"offset syncs", f.OffsetSyncsLocation, "target"},
		{"sync acls", f.SyncTopicACLs, false},
		{"sync configs", f.SyncTopicConfigs, false},
		{"refresh topics", f.RefreshTopics, false},
		{"topic creation", f.TopicCreation, false},
		{"sync groups", f.SyncGroupOffsets, true},
		{"sync interval", f.SyncGroupOffsetsInterval, 10 * time.Second},
		{"checkpoints rf", f.CheckpointsReplicationFactor, int16(3)},
		{"heartbeats rf", f.HeartbeatsReplicationFactor, int16(3)},
		{"topics", f.Topics.String(), "app1-t1, app1-t2, app2-t1, app3-t1, app3-t2"},
		{"groups", f.Groups.String(), "^(app1.*|app2.*)$"},
		{"acks (producer.ack is a typo)", f.Producer.Acks, "all"},
		{"idempotent", f.Producer.Idempotent, true},
		{"batch size", f.Producer.BatchSize, int32(defaultBatchSize)},
		{"buffer memory", f.Producer.BufferMemory, int64(225000000)},
		{"compression", f.Producer.Compression, "gzip"},
		{"linger", f.Producer.Linger, 1500 * time.Millisecond},
		{"max request", f.Producer.MaxRequestSize, int32(157286400)},
		{"request timeout", f.Producer.RequestTimeout, time.Minute},
		{"start at", f.Consumer.StartAt, "earliest"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestStrictTurnsWarningsIntoErrors(t *testing.T) {
	_, err := Load("testdata/seed-kmm2.yaml", Options{SecretsDir: seedSecrets(t), Strict: true})
	if err == nil {
		t.Fatal("strict load of the seed succeeded despite its unknown keys")
	}
	msg := err.Error()
	for _, w := range []string{`"producer.ack" (line 46): unknown key, ignored; did you mean producer.acks? (--strict)`, "4 problems"} {
		if !strings.Contains(msg, w) {
			t.Errorf("strict error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "Kafka Connect key") {
		t.Errorf("notes must not fail a strict load:\n%s", msg)
	}
}

func TestV1Resource(t *testing.T) {
	cfg, err := Load("testdata/v1-kmm2.yaml", Options{SecretsDir: seedSecrets(t)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Version != "kafka.strimzi.io/v1" || len(cfg.Clusters) != 2 || len(cfg.Flows) != 1 {
		t.Fatalf("version %s, %d clusters, %d flows", cfg.Version, len(cfg.Clusters), len(cfg.Flows))
	}
	f := cfg.Flows[0]
	if f.Source != "my-source-cluster" || f.Target != "my-target-cluster" || f.TasksMax != 16 {
		t.Errorf("flow %s tasks %d", f.Name(), f.TasksMax)
	}
	if !f.Consumer.ReadCommitted || f.Producer.Compression != "zstd" || !f.SyncGroupOffsets {
		t.Errorf("client settings not applied: %+v %+v", f.Consumer, f.Producer)
	}
	if ok, _ := f.TopicsExclude.Match("orders-retry"); !ok {
		t.Error("topicsExcludePattern not applied")
	}
	dst := cfg.Cluster("my-target-cluster")
	if dst.TLS == nil || len(dst.TLS.CAs) != 1 || dst.TLS.CAs[0] != "secret my-target-cluster-cluster-ca-cert/ca.crt" {
		t.Errorf("pattern *.crt: CAs %v", dst.TLS.CAs)
	}
	var notes []string
	for _, d := range cfg.Diagnostics {
		if d.Level == LevelWarning {
			t.Errorf("unexpected warning: %s", d)
		}
		notes = append(notes, d.Key)
	}
	for _, k := range []string{"spec.target.groupId", "spec.target.configStorageTopic"} {
		if !slices.Contains(notes, k) {
			t.Errorf("no note for %s in %v", k, notes)
		}
	}
}

func TestNativeConfig(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("native-ca")
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, "testdata/native.yaml", filepath.Join(dir, "native.yaml"))
	writeFile(t, filepath.Join(dir, "ca.crt"), ca.PEM)
	env := map[string]string{"KMIRROR_TARGET_PASSWORD": "from-env"}
	cfg, err := Load(filepath.Join(dir, "native.yaml"), Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.Diagnostics) != 0 {
		t.Errorf("diagnostics: %v", diagStrings(cfg.Diagnostics))
	}
	dst := cfg.Cluster("target")
	if dst.SASL.Password.Reveal() != "from-env" || dst.SASL.Mechanism != MechanismSCRAMSHA256 {
		t.Errorf("SASL %+v", dst.SASL)
	}
	if dst.TLS.ServerName != "kafka.internal" || !slices.Equal(dst.Bootstrap, []string{"127.0.0.1:9093", "127.0.0.1:9094"}) {
		t.Errorf("TLS %+v bootstrap %v", dst.TLS, dst.Bootstrap)
	}
	if f := cfg.Flows[0]; f.Replication.Name() != "identity" || !f.SyncGroupOffsets {
		t.Errorf("flow settings %+v", f.Settings)
	}
}

func TestPropertiesWithSCRAMAndPKCS12(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("props-ca")
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert}, "changeit")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "truststore.p12"), p12)
	copyFile(t, "testdata/mm2.properties", filepath.Join(dir, "mm2.properties"))
	cfg, err := Load(filepath.Join(dir, "mm2.properties"), Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []string{"note: offset.flush.timeout.ms (line 23): a Kafka Connect key; kmirror has no Connect worker and ignores it"}
	if got := diagStrings(cfg.Diagnostics); !slices.Equal(got, want) {
		t.Errorf("diagnostics %q, want %q", got, want)
	}
	dst := cfg.Cluster("dst")
	if dst.SASL == nil || dst.SASL.Mechanism != MechanismSCRAMSHA512 || dst.SASL.Username != "mirror" || dst.SASL.Password.Reveal() != "s3cr3t-pw" {
		t.Fatalf("SASL %+v", dst.SASL)
	}
	if dst.TLS == nil || !dst.TLS.SkipHostnameVerification || len(dst.TLS.CAs) != 1 {
		t.Fatalf("TLS %+v", dst.TLS)
	}
	if _, err := ca.Cert.Verify(x509.VerifyOptions{Roots: dst.TLS.RootCAs}); err != nil {
		t.Errorf("trust store does not hold the CA: %v", err)
	}
	if cfg.Cluster("src").TLS != nil || cfg.Cluster("src").SASL != nil {
		t.Error("src should be plaintext")
	}
	f := cfg.Flows[0]
	if f.Name() != "src->dst" || f.TasksMax != 8 || f.Replication.Name() != "identity" || f.OffsetSyncsLocation != "target" ||
		!f.SyncGroupOffsets || f.Producer.Compression != "lz4" || f.Consumer.FetchMaxBytes != 10485760 {
		t.Errorf("flow %s %+v %+v %+v", f.Name(), f.Settings, f.Producer, f.Consumer)
	}
}

func TestKeyStoresJKSAndPKCS12(t *testing.T) {
	ca, err := pki.NewCA("ks-ca")
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue("client")
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(client.Key(), client.Cert, []*x509.Certificate{ca.Cert}, "storepw")
	if err != nil {
		t.Fatal(err)
	}
	c, err := keyStore(p12, "", NewSecret("storepw"), Secret{})
	if err != nil || len(c.Certificate) != 2 {
		t.Fatalf("PKCS12 key store: %v", err)
	}
	if _, err := keyStore(p12, "PKCS12", NewSecret("wrong"), Secret{}); err == nil {
		t.Error("wrong PKCS12 password accepted")
	}
	pemStore := append(append([]byte{}, client.CertPEM...), client.KeyPEM...)
	if c, err := keyStore(pemStore, "", Secret{}, Secret{}); err != nil || len(c.Certificate) != 1 {
		t.Fatalf("PEM key store: %v", err)
	}
	jksKeys := jksKeyStore(t, client, "storepw", "keypw")
	if c, err := keyStore(jksKeys, "", NewSecret("storepw"), NewSecret("keypw")); err != nil || len(c.Certificate) != 1 {
		t.Fatalf("JKS key store: %v", err)
	}
	if _, err := keyStore(jksKeys, "JKS", NewSecret("storepw"), NewSecret("wrong")); err == nil || !strings.Contains(err.Error(), "ssl.key.password") {
		t.Errorf("wrong JKS key password: %v", err)
	}
	jks := jksTrustStore(t, ca.Cert, "storepw")
	certs, err := trustStore(jks, "", NewSecret("storepw"))
	if err != nil || len(certs) != 1 || !certs[0].Equal(ca.Cert) {
		t.Fatalf("JKS trust store: %v", err)
	}
	if _, err := trustStore(jks, "JKS", NewSecret("wrong")); err == nil {
		t.Error("wrong JKS password accepted")
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	s := NewSecret("hunter2")
	sasl := &SASL{Mechanism: MechanismPlain, Username: "u", Password: s}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %q %+v %#v", s, s, s, sasl, sasl)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, data)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// offset.storage.topic and group.id in the Connect cluster's config name
// where a MirrorMaker 2 kmirror takes over from kept its positions and ran
// its workers, in both formats; the note says so.
func TestConnectKeysForTakeover(t *testing.T) {
	for name, c := range map[string]struct{ file, text string }{
		"resource": {"kmirror.yaml", `connectCluster: B
clusters:
  - alias: A
    bootstrapServers: 127.0.0.1:9092
  - alias: B
    bootstrapServers: 127.0.0.1:9093
    config:
      offset.storage.topic: mm2-cluster-offsets
      group.id: mm2-cluster
mirrors:
  - sourceCluster: A
    targetCluster: B
    topicsPattern: "orders"
`},
		"properties": {"mm2.properties", `clusters = A, B
A.bootstrap.servers = 127.0.0.1:9092
B.bootstrap.servers = 127.0.0.1:9093
A->B.enabled = true
A->B.topics = orders
B.offset.storage.topic = mm2-cluster-offsets
B.group.id = mm2-cluster
`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Parse(c.file, []byte(c.text), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if b := cfg.Cluster("B"); b.ConnectOffsetsTopic != "mm2-cluster-offsets" || b.ConnectGroup != "mm2-cluster" {
				t.Errorf("Connect keys of B: %q, %q", b.ConnectOffsetsTopic, b.ConnectGroup)
			}
			if got := diagStrings(cfg.Diagnostics); len(got) != 2 || !strings.Contains(got[0], "take over from the MirrorMaker 2") {
				t.Errorf("diagnostics %q", got)
			}
		})
	}
}

// emit.offset-syncs.enabled and checkpoint.tasks.max are accepted, and
// noted as ignored with the reason, in both formats: nothing reads them.
func TestIgnoredConnectorKeys(t *testing.T) {
	const syncsWhy = "kmirror always keeps its exact offset map: resuming after a crash and translating group offsets depend on it"
	const tasksWhy = "kmirror translates every group of a flow in one loop per worker; the group offsets of a flow are fetched in one request"
	tests := []struct {
		name, file, text string
		want             []string
	}{
		{"properties", "mm2.properties", `clusters = A, B
A.bootstrap.servers = 127.0.0.1:9092
B.bootstrap.servers = 127.0.0.1:9093
A->B.enabled = true
A->B.emit.offset-syncs.enabled = false
A->B.checkpoint.tasks.max = 4
`, []string{
			"note: A->B.emit.offset-syncs.enabled (line 5): accepted; no effect in kmirror: " + syncsWhy,
			"note: A->B.checkpoint.tasks.max (line 6): accepted; no effect in kmirror: " + tasksWhy,
		}},
		{"resource", "kmirror.yaml", `connectCluster: B
clusters:
  - alias: A
    bootstrapServers: 127.0.0.1:9092
  - alias: B
    bootstrapServers: 127.0.0.1:9093
mirrors:
  - sourceCluster: A
    targetCluster: B
    sourceConnector:
      config:
        emit.offset-syncs.enabled: false
    checkpointConnector:
      tasksMax: 4
`, []string{
			`note: mirrors[0].sourceConnector.config."emit.offset-syncs.enabled" (line 12): accepted; no effect in kmirror: ` + syncsWhy,
			"note: mirrors[0].checkpointConnector.tasksMax (line 14): accepted; no effect in kmirror: " + tasksWhy,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(tt.file, []byte(tt.text), Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := diagStrings(cfg.Diagnostics); !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
