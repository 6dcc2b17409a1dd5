package main_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// seedTopics are the seed's five topics, with their partition counts;
// app1-t10 is a decoy that the seed's list leaves out and its regex takes.
var seedTopics = map[string]int32{"app1-t1": 3, "app1-t2": 2, "app2-t1": 2, "app3-t1": 1, "app3-t2": 1, "app1-t10": 1}

// The seed's topics mirrored with its patterns, identity and default
// policies; each target partition equals its source partition record by
// record; a topic created and a partition added while kmirror runs are
// picked up; topic configs follow the source.
func TestSeedTopics(t *testing.T) {
	src, tgt := clusters(t)
	t.Logf("bed: %s", bedName())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	retention := "86400000"
	for name, parts := range seedTopics {
		if name == "app3-t2" {
			continue // created while kmirror runs
		}
		src.createTopic(t, name, parts, map[string]*string{"retention.ms": &retention})
	}
	var seq int
	produce := func(topics ...string) {
		t.Helper()
		var recs []*kgo.Record
		for _, name := range topics {
			for p := range src.EndOffsets(t, name) {
				for range 50 {
					seq++
					recs = append(recs, &kgo.Record{Topic: name, Partition: p,
						Key: fmt.Appendf(nil, "k%d", seq%7), Value: fmt.Appendf(nil, "%s/%d/%d", name, p, seq),
						Headers:   []kgo.RecordHeader{{Key: "seq", Value: fmt.Appendf(nil, "%d", seq)}},
						Timestamp: time.UnixMilli(1_700_000_000_000 + int64(seq))})
				}
			}
		}
		src.Produce(t, recs)
	}
	produce("app1-t1", "app1-t2", "app2-t1", "app3-t1", "app1-t10")

	for _, c := range []struct {
		name, alias, policy, pattern string
		want, skip                   []string
	}{
		{"identity and list", "seed-identity", "identity", "app1-t1, app1-t2, app2-t1, app3-t1, app3-t2",
			[]string{"app1-t1", "app1-t2", "app2-t1", "app3-t1", "app3-t2"}, []string{"app1-t10"}},
		{"default and regex", "seed-default", "org.apache.kafka.connect.mirror.DefaultReplicationPolicy", "^app1.*|app2.*$",
			[]string{"app1-t1", "app1-t2", "app2-t1", "app1-t10"}, []string{"app3-t1", "app3-t2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			targetName := func(topic string) string {
				if c.policy == "identity" {
					return topic
				}
				return c.alias + "." + topic
			}
			cfg := flowConfig(t, side{alias: c.alias, addr: src.Addr}, side{alias: "seed-target", addr: tgt.Addr}, fmt.Sprintf(`    topicsPattern: %q
    sourceConnector:
      config:
        replication.policy.class: %s
        refresh.topics.interval.seconds: 1
        sync.topic.configs.interval.seconds: 1
`, c.pattern, c.policy))
			w := runWorker(t, cfg)
			if c.policy == "identity" {
				// The fifth topic appears while kmirror runs, and the
				// first grows a partition.
				src.createTopic(t, "app3-t2", seedTopics["app3-t2"], nil)
				resp, err := src.admin(t).CreatePartitions(ctx, 1, "app1-t1")
				if err == nil {
					err = resp.Error()
				}
				if err != nil {
					t.Fatalf("add a partition to app1-t1: %v", err)
				}
				produce("app3-t2", "app1-t1")
			}
			for _, name := range c.want {
				tgt.waitEnds(t, targetName(name), src.EndOffsets(t, name), 2*time.Minute)
				compareTopic(t, src, tgt, name, targetName(name))
			}
			topics, err := tgt.admin(t).ListTopics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range c.skip {
				if topics.Has(targetName(name)) {
					t.Errorf("%s is on the target, but %q does not select it", targetName(name), c.pattern)
				}
			}
			// A config set on the source reaches the target.
			week := "604800000"
			if _, err := src.admin(t).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: &week}}, c.want[0]); err != nil {
				t.Fatal(err)
			}
			testbed.WaitFor(t, time.Minute, "retention.ms on the target", func() bool {
				return topicConfig(t, tgt, targetName(c.want[0]), "retention.ms") == week
			})
			if got := topicConfig(t, tgt, targetName(c.want[1]), "retention.ms"); got != retention {
				t.Errorf("retention.ms of %s on the target = %q, want the source's %q", targetName(c.want[1]), got, retention)
			}
			if _, err := src.admin(t).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: &retention}}, c.want[0]); err != nil {
				t.Fatal(err)
			}
			stopWorker(t, w)
		})
	}
}

// compareTopic fails the test unless every partition of the target topic
// holds the source partition's records, in order, each the same.
func compareTopic(t *testing.T, src, tgt *bedCluster, from, to string) {
	t.Helper()
	want, got := src.readAll(t, from), tgt.readAll(t, to)
	if len(got) != len(want) {
		t.Fatalf("%s has %d partitions, %s %d", to, len(got), from, len(want))
	}
	for p, recs := range want {
		if len(got[p]) != len(recs) {
			t.Errorf("%s[%d] has %d records, %s[%d] %d", to, p, len(got[p]), from, p, len(recs))
			continue
		}
		for i, r := range recs {
			if err := testbed.SameRecord(r, got[p][i]); err != nil {
				t.Errorf("%s[%d] record %d: %v", to, p, i, err)
				break
			}
		}
	}
}

// topicConfig returns a topic's config value, or "" if unset.
func topicConfig(t *testing.T, c *bedCluster, topic, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rcs, err := c.admin(t).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return ""
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		return ""
	}
	for _, cfg := range rc.Configs {
		if cfg.Key == key && cfg.Value != nil {
			return *cfg.Value
		}
	}
	return ""
}

// The seed's replication factor of 3 for the checkpoints topic (and the
// heartbeats topic), on a one-broker target: Apache Kafka refuses the
// topic (kfake creates it), and kmirror stops with one error naming the
// key to change. The checkpoints topic is named after the source alias, so
// that it is new on the shared target.
func TestInternalTopicReplicationFactorAboveBrokers(t *testing.T) {
	needsKafka(t, "a broker that refuses more replicas than brokers")
	src, tgt := clusters(t)
	topic, alias := uniq(t, "rf-app1"), uniq(t, "rf-src")
	src.createTopic(t, topic, 1, nil)
	cfg := flowConfig(t, side{alias: alias, addr: src.Addr}, side{alias: "rf-tgt", addr: tgt.Addr}, fmt.Sprintf(`    topicsPattern: %q
    checkpointConnector:
      config:
        checkpoints.topic.replication.factor: 3
`, topic))
	code, out := runs(t, time.Minute, "run", "-c", cfg, "--http", "")
	want := fmt.Sprintf(`create internal topic "%s.checkpoints.internal" with checkpoints.topic.replication.factor=3: INVALID_REPLICATION_FACTOR`, alias)
	if code == 0 || !strings.Contains(out, want) {
		t.Fatalf("run exited %d, want an error naming checkpoints.topic.replication.factor:\n%s", code, out)
	}
}
