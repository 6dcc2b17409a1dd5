package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kmirror/kmirror/internal/testbed"
)

func TestPreflightKafkaUserSeed(t *testing.T) {
	secrets, _ := testbed.SeedSecrets(t)
	code, out, errOut := execute(t, context.Background(), "preflight", "-c", "../config/testdata/seed-kmm2.yaml", "--secrets-dir", secrets, "--kafkauser",
		"--quota-consumer-byte-rate", "52428800", "--quota-producer-byte-rate", "52428800", "--quota-request-percentage", "50")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "preflight-kafkauser-seed", out)
}

// A source user with the seed's ACLs but DescribeConfigs: preflight
// exits 1 and its last line names that permission on that topic.
func TestPreflight(t *testing.T) {
	const pw = "mirror-pw"
	allow := func(typ kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: typ, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	src := testbed.NewCluster(t, kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("SCRAM-SHA-512", "admin", "admin-pw"),
		kfake.User("SCRAM-SHA-512", "mirror", pw,
			allow(kmsg.ACLResourceTypeTopic, "*", kmsg.ACLOperationRead),
			allow(kmsg.ACLResourceTypeGroup, "*", kmsg.ACLOperationDescribe),
			allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationDescribe)))
	tgt := testbed.NewCluster(t, kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("SCRAM-SHA-512", "mirror", pw))
	for _, name := range []string{"app1-t1", "other"} {
		if err := src.CreateTopic(name, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(src.Client(t, kgo.SASL(scram.Auth{User: "admin", Pass: "admin-pw"}.AsSha512Mechanism())))
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "app1-t1", Partition: 0, At: 0, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(t.Context(), "app1-consumer", offsets); err != nil {
		t.Fatal(err)
	}
	write := func(password string) string {
		dir := t.TempDir()
		testbed.WriteFiles(t, dir, map[string][]byte{"kmirror.yaml": fmt.Appendf(nil, `connectCluster: target
clusters:
  - alias: source
    bootstrapServers: %s
    authentication: {type: scram-sha-512, username: mirror, password: %s}
  - alias: target
    bootstrapServers: %s
    authentication: {type: scram-sha-512, username: mirror, password: %s}
mirrors:
  - sourceCluster: source
    targetCluster: target
    topicsPattern: "app1-t1, app1-t2"
    groupsPattern: "^(app1.*|app2.*)$"
    sourceConnector:
      config:
        replication.policy.class: identity
        sync.topic.acls.enabled: "false"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`, src.Addr, password, tgt.Addr, pw)})
		return filepath.Join(dir, "kmirror.yaml")
	}
	good, wrong := write(pw), write("not-the-password")

	tests := []struct {
		name     string
		args     []string
		lastLine string
	}{
		{"preflight-missing", []string{"-c", good}, `missing: DescribeConfigs on topic:app1-t1 of "source"`},
		{"preflight-wrong-password", []string{"-c", wrong}, `cannot check: cluster "source": authentication failed (SCRAM-SHA-512 as user "mirror"): check the username and password`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := execute(t, context.Background(), append([]string{"preflight"}, tt.args...)...)
			if code != ExitFailure {
				t.Fatalf("exit %d, want %d: %s%s", code, ExitFailure, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, tt.lastLine) {
				t.Errorf("last line %q, want %q", last, tt.lastLine)
			}
			if strings.Contains(out+errOut, pw) || strings.Contains(out+errOut, "not-the-password") {
				t.Errorf("a password is shown:\n%s%s", out, errOut)
			}
			if tt.name == "preflight-missing" {
				golden(t, tt.name, out)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		code, out, errOut := execute(t, context.Background(), "preflight", "-c", good, "--json")
		if code != ExitFailure {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rep struct {
			Permissions []struct {
				Cluster   string
				Resource  struct{ Type, Name string }
				Operation string
				Status    string
				Optional  bool
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var missing []string
		for _, p := range rep.Permissions {
			if p.Status == "missing" && !p.Optional {
				missing = append(missing, fmt.Sprintf("%s %s:%s %s", p.Cluster, p.Resource.Type, p.Resource.Name, p.Operation))
			}
		}
		if len(missing) != 1 || missing[0] != "source topic:app1-t1 DescribeConfigs" {
			t.Errorf("missing %q", missing)
		}
	})
}
