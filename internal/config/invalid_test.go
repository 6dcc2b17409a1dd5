package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every malformed input gives errors that name the key and say what is
// wrong; none panics and none loads.
func TestInvalidConfigurations(t *testing.T) {
	tests := []struct {
		file string
		want []string // each must appear in one error line
	}{
		{"bad-yaml.yaml", []string{"not valid YAML"}},
		{"unknown-alias.yaml", []string{`mirrors[0].sourceCluster (line 8): "nope" is not a cluster alias (clusters: a, b)`}},
		{"tasksmax-not-number.yaml", []string{`mirrors[0].sourceConnector.tasksMax (line 11): "abc" is not an integer`}},
		{"heartbeat-above-session.yaml", []string{`mirrors[0].sourceConnector.config."heartbeat.interval.ms" (line 13): heartbeat.interval.ms (6000) must be below session.timeout.ms (6000)`}},
		{"tasksmax-zero.yaml", []string{`mirrors[0].sourceConnector.config."tasks.max" (line 12): "0" must be at least 1`}},
		{"bad-regex.yaml", []string{`mirrors[0].topicsPattern (line 10): "(unclosed" is not a valid regular expression`}},
		{"missing-secret.yaml", []string{`cluster "b": secret absent-secret/password: not read (no --secrets-dir given); commands that connect (run, plan, preflight, …) need --secrets-dir DIR`}},
		{"two-targets.properties", []string{"the flows have 2 target clusters (b, c)"}},
		{"pair-without-eos.properties", []string{`a->b.enabled (line 4): flows a->b and b->a copy the same topic names both ways: both need exactly.once.source.support: enabled`}},
		{"pair-mixed-policy.properties", []string{`flows a->b and b->a: one uses the identity replication policy, the other not`}},
		{"target-not-connect-cluster.yaml", []string{`mirrors[0].targetCluster (line 9): "b" is not the target cluster "a"`}},
		{"no-mirrors.yaml", []string{"mirrors (line 1): required", "no flows (mirrors) are defined"}},
		{"self-flow.yaml", []string{`a flow cannot mirror cluster "a" into itself`}},
		{"bad-bootstrap.yaml", []string{`clusters[1].bootstrapServers (line 6): "no-port-here" is not host:port`}},
		{"bad-port.yaml", []string{`"host:99999" has an invalid port`}},
		{"duplicate-alias.yaml", []string{`clusters[1].alias (line 5): cluster alias "a" is defined twice`}},
		{"bad-policy.yaml", []string{`mirrors[0].sourceConnector.config."replication.policy.class" (line 12): "com.example.MyPolicy" is not a supported replication policy`}},
		{"bad-bool.yaml", []string{`mirrors[0].checkpointConnector.config."sync.group.offsets.enabled" (line 12): "maybe" is not true or false`}},
		{"bad-location.yaml", []string{`"elsewhere" is not one of source, target`}},
		{"conflicting-connectors.yaml", []string{`mirrors[0].checkpointConnector.config."replication.policy.class" (line 15): "default" disagrees with "identity" at mirrors[0].sourceConnector.config."replication.policy.class"`}},
		{"bad-auth-type.yaml", []string{`clusters[1].authentication.type (line 8): "kerberos" is not an authentication type`}},
		{"oauth.yaml", []string{`clusters[1].authentication.type (line 8): type oauth needs tokenEndpointUri and clientId with clientSecret or refreshToken (or username with passwordSecret), or accessToken or accessTokenLocation`}},
		{"missing-env.yaml", []string{`clusters[1].authentication.passwordEnv (line 10): environment variable KMIRROR_TEST_UNSET_VARIABLE is not set`}},
		{"missing-ca-file.yaml", []string{`clusters[1].tls.caFile (line 8): testdata/invalid/does-not-exist.crt: no such file or directory`}},
		{"bad-rf.yaml", []string{`config."replication.factor" (line 12): "0" must be -1 (the broker's default) or at least 1`}},
		{"bad-acks.yaml", []string{`clusters[1].config."producer.acks" (line 8): "some" is not one of all, -1, 1, 0`}},
		{"idempotence-acks.yaml", []string{`acks=1 cannot be combined with enable.idempotence=true`}},
		{"bad-compression.yaml", []string{`"brotli" is not one of none, gzip, snappy, lz4, zstd`}},
		{"config-not-map.yaml", []string{`clusters[1].config (line 7): must be a mapping, not a list`}},
		{"wrong-kind.yaml", []string{`"KafkaUser" is not a KafkaMirrorMaker2 resource`}},
		{"wrong-api.yaml", []string{`apiVersion (line 1): "kafka.strimzi.io/v2" is not a KafkaMirrorMaker2 version kmirror knows`}},
		{"no-clusters.properties", []string{"clusters: required"}},
		{"no-enabled-flow.properties", []string{"no flow is enabled: set A->B.enabled = true"}},
		{"gssapi.properties", []string{`b.sasl.mechanism (line 5): "GSSAPI" is not supported`}},
		{"bad-jaas.properties", []string{`b.sasl.jaas.config (line 6): sasl.mechanism SCRAM-SHA-512 needs the login module org.apache.kafka.common.security.scram.ScramLoginModule`}},
		{"bad-protocol.properties", []string{`b.security.protocol (line 4): "TLS" is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL`}},
		{"missing-truststore.properties", []string{`b.ssl.truststore.location (line 5): /nonexistent/truststore.jks: no such file or directory`}},
		{"flow-unknown-cluster.properties", []string{`a->c.enabled (line 4): the flow names cluster aliases that are not in clusters (a, b)`}},
		{"missing-bootstrap.properties", []string{`b.bootstrap.servers: no bootstrap servers given`}},
		{"secret-path-escape.yaml", []string{`".." is not a valid secret name`}},
	}
	files, _ := filepath.Glob("testdata/invalid/*")
	if len(files) != len(tests) {
		t.Errorf("%d files under testdata/invalid, %d cases: every file needs a case", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata/invalid", tt.file), Options{SecretsDir: mustSecretsDir(tt.file)})
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load = %v, want a *config.Error", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			for _, secret := range []string{"hunter2", "panic", "goroutine"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error contains %q:\n%s", secret, msg)
				}
			}
		})
	}
}

// mustSecretsDir gives the cases about secret names a secrets directory,
// so that they fail on the name, not on its absence.
func mustSecretsDir(file string) string {
	if file == "secret-path-escape.yaml" {
		return os.TempDir()
	}
	return ""
}
