package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/kmirror/kmirror/internal/pki"
)

func diagStrings(ds []Diagnostic) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Level.String() + ": " + d.String()
	}
	return out
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
// its workers, in both formats, and so do the v1 target's groupId and
// offsetStorageTopic, which Strimzi gives the worker as those keys; the
// note says so.
func TestConnectKeysForTakeover(t *testing.T) {
	for name, c := range map[string]struct {
		file, text string
		notes      int
	}{
		"v1 resource": {"kmm2.yaml", `apiVersion: kafka.strimzi.io/v1
kind: KafkaMirrorMaker2
metadata:
  name: mm2
spec:
  target:
    alias: B
    bootstrapServers: 127.0.0.1:9093
    groupId: mm2-cluster
    configStorageTopic: mm2-cluster-configs
    offsetStorageTopic: mm2-cluster-offsets
    statusStorageTopic: mm2-cluster-status
  mirrors:
    - source:
        alias: A
        bootstrapServers: 127.0.0.1:9092
      topicsPattern: "orders"
`, 4},
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
`, 2},
		"properties": {"mm2.properties", `clusters = A, B
A.bootstrap.servers = 127.0.0.1:9092
B.bootstrap.servers = 127.0.0.1:9093
A->B.enabled = true
A->B.topics = orders
B.offset.storage.topic = mm2-cluster-offsets
B.group.id = mm2-cluster
`, 2},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Parse(c.file, []byte(c.text), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if b := cfg.Cluster("B"); b.ConnectOffsetsTopic != "mm2-cluster-offsets" || b.ConnectGroup != "mm2-cluster" {
				t.Errorf("Connect keys of B: %q, %q", b.ConnectOffsetsTopic, b.ConnectGroup)
			}
			got := diagStrings(cfg.Diagnostics)
			takeover := 0
			for _, d := range got {
				if strings.Contains(d, "take over from the MirrorMaker 2") {
					takeover++
				}
			}
			if len(got) != c.notes || takeover != 2 {
				t.Errorf("diagnostics %q", got)
			}
		})
	}
}

// emit.offset-syncs.enabled and checkpoint.tasks.max are accepted, and
// noted as ignored with the reason, in both formats: nothing reads them.
func TestIgnoredConnectorKeys(t *testing.T) {
	const tasksWhy = "kmirror translates every group of a flow in one loop per worker; the group offsets of a flow are fetched in one request"
	tests := []struct {
		name, file, text string
		want             []string
	}{
		{"properties", "mm2.properties", `clusters = A, B
A.bootstrap.servers = 127.0.0.1:9092
B.bootstrap.servers = 127.0.0.1:9093
A->B.enabled = true
A->B.checkpoint.tasks.max = 4
`, []string{
			"note: A->B.checkpoint.tasks.max (line 5): accepted; no effect in kmirror: " + tasksWhy,
		}},
		{"resource", "kmirror.yaml", abResource + `    checkpointConnector:
      tasksMax: 4
`, []string{
			"note: mirrors[0].checkpointConnector.tasksMax (line 11): accepted; no effect in kmirror: " + tasksWhy,
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

// abResource is a native configuration of one flow, A->B, to extend.
const abResource = `connectCluster: B
clusters:
  - alias: A
    bootstrapServers: 127.0.0.1:9092
  - alias: B
    bootstrapServers: 127.0.0.1:9093
mirrors:
  - sourceCluster: A
    targetCluster: B
`

// Exactly-once mode is turned on as MirrorMaker 2 users write it: the
// worker key on the target cluster (or at the top of a properties file),
// and the connector may require it. What the mode cannot work with is one
// error naming the key.
func TestExactlyOnceMode(t *testing.T) {
	const eosResource = `connectCluster: B
clusters:
  - alias: A
    bootstrapServers: 127.0.0.1:9092
  - alias: B
    bootstrapServers: 127.0.0.1:9093
    config:
      exactly.once.source.support: enabled
mirrors:
  - sourceCluster: A
    targetCluster: B
`
	tests := []struct {
		name, file, text string
		want             []string
		eos, invalid     bool
	}{
		{"properties, enabled and requested", "mm2.properties", `clusters = A, B
A.bootstrap.servers = 127.0.0.1:9092
B.bootstrap.servers = 127.0.0.1:9093
A->B.enabled = true
exactly.once.source.support = enabled
A->B.exactly.once.support = requested
A->B.transaction.boundary.interval.ms = 250
`, nil, true, false},
		{"resource, enabled", "kmirror.yaml", eosResource, nil, true, false},
		{"resource, required", "kmirror.yaml", eosResource + `    sourceConnector:
      config:
        exactly.once.support: required
`, nil, true, false},
		{"not enabled", "kmirror.yaml", abResource, nil, false, false},
		{"required without the worker key", "kmirror.yaml", abResource + `    sourceConnector:
      config:
        exactly.once.support: required
`, []string{
			`error: mirrors[0].sourceConnector.config."exactly.once.support" (line 12): required, but the target cluster's config does not say exactly.once.source.support: enabled`,
		}, false, true},
		{"preparing", "kmirror.yaml", strings.Replace(eosResource, "enabled", "preparing", 1), []string{
			`note: clusters[1].config."exactly.once.source.support" (line 8): preparing is a step of a Connect cluster's rolling upgrade; kmirror runs such flows without exactly-once, as disabled`,
		}, false, false},
		{"bad value", "kmirror.yaml", strings.Replace(eosResource, "enabled", "yes", 1), []string{
			`error: clusters[1].config."exactly.once.source.support" (line 8): "yes" is not one of enabled, preparing, disabled`,
		}, false, true},
		{"offset syncs on the source", "kmirror.yaml", eosResource + `    sourceConnector:
      config:
        offset-syncs.topic.location: source
`, []string{
			`error: clusters[1].config."exactly.once.source.support" (line 8): exactly-once mode commits the offset syncs in the target's transactions: offset-syncs.topic.location must be target`,
		}, true, true},
		{"acks=1", "kmirror.yaml", strings.Replace(eosResource, "      exactly.once", "      producer.acks: 1\n      exactly.once", 1), []string{
			`warning: clusters[1].config."producer.acks" (line 8): ignored: kmirror writes its copies with acks=all, idempotently, as a leader change on the target would otherwise lose or duplicate records`,
		}, true, false},
		{"too many slots", "kmirror.yaml", eosResource + `    sourceConnector:
      config:
        transaction.slots: 5000
`, []string{
			`error: mirrors[0].sourceConnector.config."transaction.slots" (line 14): "5000" must be at most 1024`,
		}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(tt.file, []byte(tt.text), Options{})
			if (err != nil) != tt.invalid {
				t.Fatalf("Parse error %v, want invalid %v", err, tt.invalid)
			}
			var ds []Diagnostic
			if cfg != nil {
				ds = cfg.Diagnostics
			}
			var ce *Error
			if errors.As(err, &ce) {
				ds = ce.Errors
			}
			if got := diagStrings(ds); !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err != nil {
				return
			}
			f := cfg.Flows[0]
			if f.ExactlyOnce != tt.eos {
				t.Errorf("ExactlyOnce = %v, want %v", f.ExactlyOnce, tt.eos)
			}
			if f.ExactlyOnce && !f.Consumer.ReadCommitted {
				t.Error("an exactly-once flow reads the source read_uncommitted: it would copy aborted records")
			}
		})
	}
}

// Both directions between two clusters load as two flows, each the other's
// pair; with identity names both ways they copy the same names, and each
// skips the other's copies.
func TestBothWaysLoad(t *testing.T) {
	text := `clusters = a, b
a.bootstrap.servers = a:9092
b.bootstrap.servers = b:9092
a->b.enabled = true
b->a.enabled = true
replication.policy.class = identity
exactly.once.source.support = enabled
emit.checkpoints.enabled = false
sync.group.offsets.enabled = false
`
	cfg, err := Parse("mm2.properties", []byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Flows) != 2 {
		t.Fatalf("%d flows", len(cfg.Flows))
	}
	ab, ba := cfg.Flows[0], cfg.Flows[1]
	if cfg.Pair(ab) != ba || cfg.SameNamePair(ab) != ba || cfg.SameNamePair(ba) != ab {
		t.Errorf("a->b and b->a are not each other's peers")
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	// With provenance headers, the default mode will do.
	hdr, err := Parse("mm2.properties", []byte(strings.Replace(text, "exactly.once.source.support = enabled\n", "provenance.header.enabled = true\n", 1)), Options{})
	if err != nil || hdr.Flows[0].ExactlyOnce || !hdr.Flows[0].ProvenanceHeader {
		t.Fatalf("a pair with provenance headers in the default mode: %v", err)
	}
	// With the default policy the names keep the copies apart.
	def, err := Parse("mm2.properties", []byte(strings.NewReplacer("replication.policy.class = identity\n", "", "exactly.once.source.support = enabled\n", "").Replace(text)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if def.Pair(def.Flows[0]) == nil || def.SameNamePair(def.Flows[0]) != nil {
		t.Errorf("with the default policy the flows are peers but not paired")
	}
}

// MM2's offset-sync keys steer kmirror's MM2-format syncs: emitted by
// default every 100 records, as MM2 does; emit.offset-syncs.enabled=false
// writes none, offset.lag.max spaces them.
func TestOffsetSyncKeys(t *testing.T) {
	base := `clusters = A, B
A.bootstrap.servers = 127.0.0.1:9092
B.bootstrap.servers = 127.0.0.1:9093
A->B.enabled = true
`
	for _, tt := range []struct {
		name, extra string
		emit        bool
		lag         int
		mm2Reads    []string // where MM2 on the same file finds the syncs
	}{
		{"defaults", "", true, 100, []string{"B mm2-offset-syncs.A.internal", "A mm2-offset-syncs.B.internal"}},
		{"off", "A->B.emit.offset-syncs.enabled = false\n", false, 100, []string{"B mm2-offset-syncs.A.internal", "A mm2-offset-syncs.B.internal"}},
		{"denser", "A->B.offset.lag.max = 10\n", true, 10, []string{"B mm2-offset-syncs.A.internal", "A mm2-offset-syncs.B.internal"}},
		{"on the target", "offset-syncs.topic.location = target\n", true, 100, []string{"B mm2-offset-syncs.A.internal"}},
		{"on the source", "A->B.offset-syncs.topic.location = source\n", true, 100, []string{"A mm2-offset-syncs.B.internal"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("mm2.properties", []byte(base+tt.extra), Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if f := cfg.Flows[0]; f.EmitOffsetSyncs != tt.emit || f.OffsetLagMax != tt.lag {
				t.Errorf("emit %v, lag %d; want %v, %d", f.EmitOffsetSyncs, f.OffsetLagMax, tt.emit, tt.lag)
			}
			var reads []string
			for _, it := range cfg.Flows[0].MM2OffsetSyncs() {
				reads = append(reads, it.Cluster+" "+it.Name)
			}
			if fmt.Sprint(reads) != fmt.Sprint(tt.mm2Reads) {
				t.Errorf("MM2OffsetSyncs = %q, want %q", reads, tt.mm2Reads)
			}
		})
	}
	if _, err := Parse("mm2.properties", []byte(base+"A->B.offset.lag.max = 0\n"), Options{}); err == nil || !strings.Contains(err.Error(), "offset.lag.max") {
		t.Errorf("offset.lag.max = 0: %v", err)
	}
}
