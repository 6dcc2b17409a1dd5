package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// seedUser is the seed's KafkaUser on both clusters.
const seedUser = "kafka.mm2.migration-user"

// seedSourceACLs are the ACLs of the seed's source KafkaUser
// (examples/seed/kafkausers.yaml), for principal; without
// describeConfigs, but DescribeConfigs.
func seedSourceACLs(t *testing.T, principal string, describeConfigs bool) []*kadm.ACLBuilder {
	t.Helper()
	source, _ := seedKafkaUsers(t)
	if describeConfigs {
		return aclBuilders(t, source, principal)
	}
	return aclBuilders(t, source, principal, "DescribeConfigs")
}

// seedTargetACLs are the ACLs of the seed's target KafkaUser, for
// principal.
func seedTargetACLs(t *testing.T, principal string) []*kadm.ACLBuilder {
	t.Helper()
	_, target := seedKafkaUsers(t)
	return aclBuilders(t, target, principal)
}

// The seed's security: the source with mutual TLS, the target with
// SCRAM-SHA-512 over TLS, kmirror's users holding exactly the seed's two
// KafkaUsers' ACLs, kmirror configured by the seed's KafkaMirrorMaker2 with
// its secrets mounted. preflight passes and run copies and syncs groups;
// a source user without DescribeConfigs makes preflight name it; no
// secret appears in any output. On kfake, internal/preflight's tests cover
// the same with SCRAM.
func TestSeedSecurity(t *testing.T) {
	needsKafka(t, "mutual TLS, SCRAM over TLS and the StandardAuthorizer")
	src, tgt := clusters(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	password := "s3cret-" + uniq(t, "pw")
	if _, err := tgt.admin(t).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: seedUser, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: password}}); err != nil {
		t.Fatal(err)
	}
	grant(t, src, seedSourceACLs(t, seedUser, true)...)
	grant(t, tgt, seedTargetACLs(t, seedUser)...)
	const otherUser = "kafka.mm2.no-describeconfigs"
	grant(t, src, seedSourceACLs(t, otherUser, false)...)

	topics := []string{uniq(t, "sec-app1-t1"), uniq(t, "sec-app1-t2")}
	group := uniq(t, "sec-app1-consumer")
	for _, name := range topics {
		src.createTopic(t, name, 2, nil)
		// The seed's resource creates no target topics.
		tgt.createTopic(t, name, 2, nil)
	}
	var recs []*kgo.Record
	for i := range 400 {
		recs = append(recs, &kgo.Record{Topic: topics[i%2], Partition: int32(i / 2 % 2), Value: fmt.Appendf(nil, "r%d", i)})
	}
	src.Produce(t, recs)
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: topics[0], Partition: 0, At: 37, LeaderEpoch: -1})
	o.Add(kadm.Offset{Topic: topics[1], Partition: 1, At: 99, LeaderEpoch: -1})
	if _, err := src.admin(t).CommitOffsets(ctx, group, o); err != nil {
		t.Fatal(err)
	}

	cfg := seedResource(t, src, tgt, strings.Join(topics, ", "), "^"+regexp.QuoteMeta(group)+"$")
	secrets := seedSecrets(t, src, tgt, seedUser, password)
	noDescribeConfigs := seedSecrets(t, src, tgt, otherUser, password)
	secret := []string{password, keyLine(t, secrets)}

	code, out := runs(t, 2*time.Minute, "preflight", "-c", cfg, "--secrets-dir", secrets)
	noSecrets(t, "preflight", out, secret)
	if code != 0 {
		t.Fatalf("preflight with the seed's ACLs exited %d:\n%s", code, out)
	}

	code, out = runs(t, 2*time.Minute, "preflight", "-c", cfg, "--secrets-dir", noDescribeConfigs)
	noSecrets(t, "preflight", out, secret)
	if code != 1 || !strings.Contains(out, "missing: DescribeConfigs on topic:"+topics[0]) {
		t.Fatalf("preflight without DescribeConfigs exited %d, want 1 naming DescribeConfigs on topic:%s:\n%s", code, topics[0], out)
	}

	w := runWorker(t, cfg, "--secrets-dir", secrets)
	for _, name := range topics {
		tgt.waitEnds(t, name, src.EndOffsets(t, name), 2*time.Minute)
		compareTopic(t, src, tgt, name, name)
	}
	testbed.WaitFor(t, time.Minute, "the group synced to the target", func() bool {
		fetched, err := tgt.admin(t).FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		a, okA := fetched.Lookup(topics[0], 0)
		b, okB := fetched.Lookup(topics[1], 1)
		return okA && okB && a.At == 37 && b.At == 99
	})
	stopWorker(t, w)
	noSecrets(t, "run", w.output(), secret)

	code, out = runs(t, time.Minute, "validate", "-c", cfg, "--secrets-dir", secrets)
	noSecrets(t, "validate", out, secret)
	if code != 0 {
		t.Fatalf("validate exited %d:\n%s", code, out)
	}
}

// grant creates ACLs as the super user.
func grant(t *testing.T, c *bedCluster, acls ...*kadm.ACLBuilder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range acls {
		res, err := c.admin(t).CreateACLs(ctx, b.ResourcePatternType(kadm.ACLPatternLiteral))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL %v: %v", r, r.Err)
			}
		}
	}
}

// seedResource writes the seed's KafkaMirrorMaker2 as published, but for
// the test clusters' addresses, topics and groups, and replication factors
// one broker can hold.
func seedResource(t *testing.T, src, tgt *bedCluster, topics, groups string) string {
	t.Helper()
	data, err := os.ReadFile("../../internal/config/testdata/seed-kmm2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, r := range []struct{ old, new string }{
		{"my-source-cluster-kafka-bootstrap:9093", src.kafka.TLSAddr},
		{"my-target-cluster-kafka-bootstrap:9093", tgt.kafka.SASLAddr},
		{`"app1-t1, app1-t2, app2-t1, app3-t1, app3-t2"`, fmt.Sprintf("%q", topics)},
		{`"^(app1.*|app2.*)$"`, fmt.Sprintf("%q", groups)},
		{"heartbeats.topic.replication.factor: 3", "heartbeats.topic.replication.factor: -1"},
		{"checkpoints.topic.replication.factor: 3", "checkpoints.topic.replication.factor: -1"},
		{"sync.group.offsets.interval.seconds: 10", "sync.group.offsets.interval.seconds: 1"},
	} {
		if !strings.Contains(text, r.old) {
			t.Fatalf("the seed's resource has no %q", r.old)
		}
		text = strings.ReplaceAll(text, r.old, r.new)
	}
	path := filepath.Join(t.TempDir(), "kmm2.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// seedSecrets writes the secrets the seed's resource names, as Kubernetes
// mounts them: the clusters' CAs, a client certificate for user signed by
// the source's CA, and the target password.
func seedSecrets(t *testing.T, src, tgt *bedCluster, user, password string) string {
	t.Helper()
	client, err := src.kafka.CA.Issue(user)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testbed.WriteFiles(t, dir, map[string][]byte{
		"my-source-cluster-cluster-ca-cert/ca.crt": src.kafka.CA.PEM,
		"my-target-cluster-cluster-ca-cert/ca.crt": tgt.kafka.CA.PEM,
		"mm2-source-cluster/tls.crt":               client.CertPEM,
		"mm2-source-cluster/tls.key":               client.KeyPEM,
		"mm2-target-cluster/password":              []byte(password + "\n"),
	})
	return dir
}

// keyLine is a line of the client's private key, which must never be
// printed.
func keyLine(t *testing.T, secrets string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(secrets, "mm2-source-cluster/tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n")[1]
}

func noSecrets(t *testing.T, what, out string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s printed a secret:\n%s", what, out)
		}
	}
}
