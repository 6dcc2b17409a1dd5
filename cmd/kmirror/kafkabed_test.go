package main_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// The suites in kafka_*_test.go run on either bed: kfake clusters in this
// process (the default), or, with KMIRROR_KAFKA set to a directory that
// internal/testbed/apache/fetch.sh printed, Apache Kafka brokers as real
// processes, shared by the package's tests. On Apache Kafka, tests keep
// apart by their own topic names and cluster aliases.

// bedCluster is one cluster of a suite.
type bedCluster struct {
	testbed.Brokers
	kafka *testbed.Kafka   // Apache Kafka, or nil on kfake
	kfake *testbed.Cluster // kfake, or nil on Apache Kafka
}

const sigterm = syscall.SIGTERM

// onKafka reports whether the suites run on Apache Kafka.
func onKafka() bool { return testbed.KafkaJars() != "" }

// bedName says which brokers the tests run on, for the log.
func bedName() string {
	if !onKafka() {
		return "kfake (in process)"
	}
	return "Apache Kafka " + testbed.KafkaVersion(testbed.KafkaJars()) + " (KRaft, real processes)"
}

// clusters returns a source and a target: two kfake clusters of the test's
// own, or the package's shared secured Apache Kafka clusters.
func clusters(t *testing.T) (src, tgt *bedCluster) {
	t.Helper()
	if !onKafka() {
		s, g := testbed.NewCluster(t), testbed.NewCluster(t)
		return &bedCluster{Brokers: s.Brokers, kfake: s}, &bedCluster{Brokers: g.Brokers, kfake: g}
	}
	s := testbed.SharedKafka(t, "source", testbed.KafkaOptions{Secure: true})
	g := testbed.SharedKafka(t, "target", testbed.KafkaOptions{Secure: true})
	return &bedCluster{Brokers: s.Brokers, kafka: s}, &bedCluster{Brokers: g.Brokers, kafka: g}
}

// needsKafka skips a test that checks what only Apache Kafka does (its log
// cleaner, several brokers, the KIP-848 protocol); kfake does not model it.
func needsKafka(t *testing.T, what string) {
	t.Helper()
	if !onKafka() {
		t.Skipf("%s: runs on Apache Kafka only (set %s, see .ci/run)", what, testbed.KafkaEnv)
	}
}

// admin is a kadm client of the cluster, as the test's super user.
func (c *bedCluster) admin(t *testing.T) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t))
}

// createTopic creates a topic and fails the test on any error.
func (c *bedCluster) createTopic(t *testing.T, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.admin(t).CreateTopic(ctx, partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// side is one cluster of a flow's configuration: its alias, bootstrap
// address and further lines (security), indented by four spaces.
type side struct {
	alias, addr, lines string
}

// flowConfig writes a native configuration with one flow from src to tgt
// and returns its path. mirror holds the mirror's further lines, indented
// by four spaces.
func flowConfig(t *testing.T, src, tgt side, mirror string) string {
	t.Helper()
	text := fmt.Sprintf(`connectCluster: %s
clusters:
  - alias: %s
    bootstrapServers: %s
%s  - alias: %s
    bootstrapServers: %s
%smirrors:
  - sourceCluster: %s
    targetCluster: %s
%s`, tgt.alias, src.alias, src.addr, src.lines, tgt.alias, tgt.addr, tgt.lines, src.alias, tgt.alias, mirror)
	path := filepath.Join(t.TempDir(), "kmirror.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// groupSyncMirror is a mirror's lines that copy the topics of topicsPattern
// with the identity policy (or, with defaultPolicy, the default one) and
// check and sync the groups of groupsPattern into the target every second.
func groupSyncMirror(topicsPattern, groupsPattern string, defaultPolicy bool) string {
	policy := "    sourceConnector:\n      config:\n        replication.policy.class: identity\n"
	if defaultPolicy {
		policy = ""
	}
	return fmt.Sprintf(`    topicsPattern: %q
    groupsPattern: %q
%s    checkpointConnector:
      config:
        sync.group.offsets.enabled: "true"
        sync.group.offsets.interval.seconds: 1
        emit.checkpoints.interval.seconds: 1
        refresh.groups.interval.seconds: 1
`, topicsPattern, groupsPattern, policy)
}

// runWorker starts `kmirror run` on a configuration and waits until it
// copies.
func runWorker(t *testing.T, config string, args ...string) *proc {
	t.Helper()
	p := start(t, append([]string{"run", "-c", config, "--http", ""}, args...)...)
	p.waitFor(t, "running; stop with SIGINT or SIGTERM", time.Minute)
	return p
}

// readAll returns every record of every partition of a topic, up to the
// partitions' ends.
func (c *bedCluster) readAll(t *testing.T, topic string) map[int32][]*kgo.Record {
	t.Helper()
	out := map[int32][]*kgo.Record{}
	for p := range c.EndOffsets(t, topic) {
		out[p] = c.Read(t, topic, p)
	}
	return out
}

// waitEnds waits until the target topic's partitions end where want says.
func (c *bedCluster) waitEnds(t *testing.T, topic string, want map[int32]int64, within time.Duration) {
	t.Helper()
	var got map[int32]int64
	testbed.WaitFor(t, within, fmt.Sprintf("%s to reach %v", topic, want), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := c.admin(t).ListEndOffsets(ctx, topic)
		if err != nil {
			return false
		}
		got = map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				got[o.Partition] = o.Offset
			}
		})
		for p, n := range want {
			if got[p] != n {
				return false
			}
		}
		return true
	})
}

// uniq makes a name unique to the test, for the clusters tests share.
func uniq(t *testing.T, name string) string {
	t.Helper()
	if !onKafka() {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("%s-%x", name, h.Sum32())
}
