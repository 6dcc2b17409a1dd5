package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.yaml.in/yaml/v3"
)

// The files of examples/seed, from this package.
const (
	exampleKMM2       = "../../examples/seed/kmm2.yaml"
	exampleKafkaUsers = "../../examples/seed/kafkausers.yaml"
)

// The example is the seed's resource as published: the same bytes as the
// copy the configuration tests read.
func TestSeedExampleIsTheSeed(t *testing.T) {
	example, err := os.ReadFile(exampleKMM2)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("../../internal/config/testdata/seed-kmm2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(example, seed) {
		t.Errorf("%s differs from internal/config/testdata/seed-kmm2.yaml", exampleKMM2)
	}
}

// seedKafkaUser is what the tests read of a KafkaUser of the example.
type seedKafkaUser struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Authentication struct {
			Type string `yaml:"type"`
		} `yaml:"authentication"`
		Authorization struct {
			Type string     `yaml:"type"`
			ACLs []seedACLs `yaml:"acls"`
		} `yaml:"authorization"`
		Quotas map[string]int64 `yaml:"quotas"`
	} `yaml:"spec"`
}

// seedACLs is an ACL as the article writes it: one operation.
type seedACLs struct {
	Operation string `yaml:"operation"`
	Resource  struct {
		Type        string `yaml:"type"`
		Name        string `yaml:"name"`
		PatternType string `yaml:"patternType"`
	} `yaml:"resource"`
}

func (a seedACLs) String() string {
	return fmt.Sprintf("%s %s:%s (%s)", a.Operation, a.Resource.Type, a.Resource.Name, a.Resource.PatternType)
}

// seedKafkaUsers reads the example's KafkaUsers: the source's, then the
// target's.
func seedKafkaUsers(t *testing.T) (source, target seedKafkaUser) {
	t.Helper()
	f, err := os.Open(exampleKafkaUsers)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var users []seedKafkaUser
	for {
		var u seedKafkaUser
		if err := dec.Decode(&u); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("%s: %v", exampleKafkaUsers, err)
		}
		users = append(users, u)
	}
	if len(users) != 2 {
		t.Fatalf("%s holds %d KafkaUsers, want 2", exampleKafkaUsers, len(users))
	}
	return users[0], users[1]
}

// The example's KafkaUsers are the article's: its ACLs and quotas, the
// user name, and the authentication kmm2.yaml uses on each cluster.
func TestSeedExampleKafkaUsers(t *testing.T) {
	source, target := seedKafkaUsers(t)
	for _, c := range []struct {
		which, cluster, auth, apiVersion string
		user                             seedKafkaUser
		acls                             []string
		consumer, producer, requests     int64
	}{
		{"source", "my-source-cluster", "tls", "kafka.strimzi.io/v1beta1", source, []string{
			"Read topic:* (literal)", "DescribeConfigs topic:* (literal)", "Describe group:* (literal)", "Describe cluster: (literal)",
		}, 52428800, 52428800, 50},
		{"target", "my-target-cluster", "scram-sha-512", "kafka.strimzi.io/v1beta2", target, []string{
			"All topic:* (literal)", "Describe cluster: ()", "All group:* (literal)",
		}, 0, 0, 0},
	} {
		u := c.user
		var acls []string
		for _, a := range u.Spec.Authorization.ACLs {
			acls = append(acls, a.String())
		}
		if u.APIVersion != c.apiVersion || u.Kind != "KafkaUser" || u.Metadata.Name != "kafka.mm2.migration-user" ||
			u.Metadata.Labels["strimzi.io/cluster"] != c.cluster || u.Spec.Authentication.Type != c.auth || u.Spec.Authorization.Type != "simple" {
			t.Errorf("the %s user: %s %s %q on %q, authentication %q, authorization %q", c.which, u.APIVersion, u.Kind, u.Metadata.Name,
				u.Metadata.Labels["strimzi.io/cluster"], u.Spec.Authentication.Type, u.Spec.Authorization.Type)
		}
		if !slices.Equal(acls, c.acls) {
			t.Errorf("the %s user's ACLs:\n%q\nwant the article's\n%q", c.which, acls, c.acls)
		}
		q := u.Spec.Quotas
		if q["consumerByteRate"] != c.consumer || q["producerByteRate"] != c.producer || q["requestPercentage"] != c.requests {
			t.Errorf("the %s user's quotas: %v", c.which, q)
		}
	}
}

// aclBuilders are a KafkaUser's ACLs for principal, but those of the
// operations left out.
func aclBuilders(t *testing.T, u seedKafkaUser, principal string, leaveOut ...string) []*kadm.ACLBuilder {
	t.Helper()
	var out []*kadm.ACLBuilder
	for _, a := range u.Spec.Authorization.ACLs {
		if slices.Contains(leaveOut, a.Operation) {
			continue
		}
		op, err := kmsg.ParseACLOperation(a.Operation)
		if err != nil {
			t.Fatalf("%s: %v", exampleKafkaUsers, err)
		}
		b := kadm.NewACLs().Allow("User:" + principal).AllowHosts("*").Operations(op)
		switch a.Resource.Type {
		case "topic":
			b = b.Topics(a.Resource.Name)
		case "group":
			b = b.Groups(a.Resource.Name)
		case "cluster":
			b = b.Clusters()
		default:
			t.Fatalf("%s: ACL on %q", exampleKafkaUsers, a.Resource.Type)
		}
		out = append(out, b)
	}
	return out
}

// exampleLocal is the seed's resource for dev clusters on this machine.
const exampleLocal = "../../examples/seed/kmm2-local.yaml"

// body is a resource without the comment lines it begins with.
func body(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
		lines = lines[1:]
	}
	return lines
}

// The local copy is the seed's resource but for the two bootstrap
// servers, which point at this machine.
func TestSeedLocalDiffersOnlyInAddresses(t *testing.T) {
	seed, local := body(t, exampleKMM2), body(t, exampleLocal)
	if len(seed) != len(local) {
		t.Fatalf("%s has %d lines after its comments, %s %d", exampleLocal, len(local), exampleKMM2, len(seed))
	}
	replaced := map[string]string{"my-source-cluster-kafka-bootstrap:9093": "127.0.0.1:19093", "my-target-cluster-kafka-bootstrap:9093": "127.0.0.1:29093"}
	for i := range seed {
		if seed[i] == local[i] {
			continue
		}
		was := strings.Fields(strings.ReplaceAll(seed[i], "\u00a0", " "))
		now := strings.Fields(strings.ReplaceAll(local[i], "\u00a0", " "))
		if len(was) < 2 || was[0] != "bootstrapServers:" || !slices.Equal(now, append([]string{was[0], replaced[was[1]]}, was[2:]...)) {
			t.Errorf("line %d of the resource differs:\n%q\n%q", i+1, seed[i], local[i])
			continue
		}
		delete(replaced, was[1])
	}
	if len(replaced) > 0 {
		t.Errorf("%s still has %v", exampleLocal, slices.Collect(maps.Keys(replaced)))
	}
}

// exampleCommands are the kmirror commands the local resource's comments
// say to run, by their first argument, each with its continuation lines.
func exampleCommands(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(exampleLocal)
	if err != nil {
		t.Fatal(err)
	}
	cmds := map[string][]string{}
	var cur []string
	for line := range strings.Lines(string(data)) {
		text, ok := strings.CutPrefix(strings.TrimSpace(line), "#")
		if !ok {
			break
		}
		text = strings.TrimSpace(text)
		if cur == nil && !strings.HasPrefix(text, "kmirror ") {
			continue
		}
		more := strings.HasSuffix(text, `\`)
		cur = append(cur, strings.Fields(strings.TrimSuffix(text, `\`))...)
		if !more {
			cmds[cur[1]] = cur[1:]
			cur = nil
		}
	}
	return cmds
}
