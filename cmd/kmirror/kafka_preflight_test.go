package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/kmirror/kmirror/internal/preflight"
	"github.com/kmirror/kmirror/internal/testbed"
)

// noConfigSync turns the topic config sync off for a case whose target
// topic config makes run fail: the sync copies the source's configs to the
// target (max.message.bytes) and removes those the source does not set
// (cleanup.policy), so whether the first record or the sync came first,
// run would fail or not (one run in two with -race, and on Kafka 4.3.1).
const noConfigSync = "sync.topic.configs.enabled: false"

// Each way run fails at start, or leaves a topic uncopied, on a cluster
// that lets it connect: preflight names it first (exit 1, the setting and
// topic on a "fails" row, and how to fix it), and run then fails on it
// as preflight said. A sound flow passes both. Rows run on kfake where it
// models the failure, on Apache Kafka all of them.
//
//	KMIRROR_KAFKA=$(internal/testbed/apache/fetch.sh 4 | tail -1) go test -count=1 -run TestPreflightNamesWhatRunFailsOn ./cmd/kmirror
func TestPreflightNamesWhatRunFailsOn(t *testing.T) {
	src, tgt := clusters(t)
	big := bytes.Repeat([]byte("x"), 1500_000) // above Kafka's default max.message.bytes
	tests := []struct {
		name string
		// needs says what kfake does not model: the row runs on Apache
		// Kafka only. kfakeOnly says why the shared Kafka clusters
		// cannot be set up for the row.
		needs, kfakeOnly string
		// prepare creates the row's topics; topic is the row's source
		// topic, also its target name (identity policy).
		prepare func(t *testing.T, topic string)
		// mirror is the connector config lines of the mirror.
		config string
		// fails is the requirement row preflight fails: "SETTING of
		// SUBJECT" (topic:%s is the row's topic); fix a word of its detail.
		fails, fix string
		// run is what run prints when it fails on it; "" for a failure
		// that shows only later (a request larger than the broker reads).
		run string
	}{
		{name: "sound",
			prepare: func(t *testing.T, topic string) {
				src.createTopic(t, topic, 2, nil)
				src.Produce(t, []*kgo.Record{{Topic: topic, Partition: 0, Value: []byte("a")}, {Topic: topic, Partition: 1, Value: []byte("b")}})
			}},
		{name: "checkpoints replication factor above the brokers",
			prepare: func(t *testing.T, topic string) { src.createTopic(t, topic, 1, nil) },
			config:  "checkpoints.topic.replication.factor: 3",
			fails:   "checkpoints.topic.replication.factor of topic:%[2]s.checkpoints.internal", fix: "set checkpoints.topic.replication.factor to 1",
			run: "checkpoints.topic.replication.factor=3: INVALID_REPLICATION_FACTOR"},
		{name: "offset syncs replication factor above the brokers",
			prepare: func(t *testing.T, topic string) { src.createTopic(t, topic, 1, nil) },
			config:  "offset-syncs.topic.replication.factor: 3",
			fails:   "offset-syncs.topic.replication.factor of topic:kmirror-progress.%[2]s.internal", fix: "set offset-syncs.topic.replication.factor to 1",
			run: "offset-syncs.topic.replication.factor=3: INVALID_REPLICATION_FACTOR"},
		{name: "target topic replication factor above the brokers",
			prepare: func(t *testing.T, topic string) { src.createTopic(t, topic, 1, nil) },
			config:  "replication.factor: 3",
			fails:   "replication.factor of topic:%[1]s", fix: "set replication.factor to 1",
			run: "INVALID_REPLICATION_FACTOR"},
		{name: "target topic missing, creation off",
			prepare: func(t *testing.T, topic string) { src.createTopic(t, topic, 2, nil) },
			config:  "topic.creation.enable: false",
			fails:   "partitions of topic:%[1]s", fix: "kafka-topics.sh --create --topic %[1]s --partitions 2",
			run: "does not exist; topic.creation.enable is false"},
		{name: "target topic with fewer partitions, creation off",
			prepare: func(t *testing.T, topic string) {
				src.createTopic(t, topic, 3, nil)
				tgt.createTopic(t, topic, 1, nil)
			},
			config: "topic.creation.enable: false",
			fails:  "partitions of topic:%[1]s", fix: "kafka-topics.sh --alter --topic %[1]s --partitions 3",
			run: "has 1 partitions, the source 3"},
		{name: "target refuses the source's largest records",
			prepare: func(t *testing.T, topic string) {
				src.createTopic(t, topic, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("2000000")})
				tgt.createTopic(t, topic, 1, nil)
				produceBig(t, src, topic, big)
			},
			config: "producer.batch.size: 2000000\n        " + noConfigSync,
			fails:  "max.message.bytes of topic:%[1]s", fix: "--add-config max.message.bytes=2000000",
			run: "MESSAGE_TOO_LARGE"},
		{name: "producer batches below the source's largest records",
			prepare: func(t *testing.T, topic string) {
				src.createTopic(t, topic, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("2000000")})
				tgt.createTopic(t, topic, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("2000000")})
				produceBig(t, src, topic, big)
			},
			// Outside exactly-once mode such a record is written alone.
			config: "exactly.once.source.support: enabled",
			fails:  "producer.batch.size of %[2]s->%[3]s", fix: "set producer.batch.size to 2000000 or more",
			run: "MESSAGE_TOO_LARGE"},
		{name: "transactions longer than the target allows", kfakeOnly: "transaction.max.timeout.ms is a static broker config",
			prepare: func(t *testing.T, topic string) {
				src.createTopic(t, topic, 1, nil)
				// 20 s: below the shortest transaction kmirror asks for.
				set := func(op kadm.IncrementalOp, v string) {
					resp, err := tgt.admin(t).AlterBrokerConfigs(context.Background(), []kadm.AlterConfig{{Op: op, Name: "transaction.max.timeout.ms", Value: kadm.StringPtr(v)}})
					if err == nil {
						err = resp[0].Err
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				set(kadm.SetConfig, "20000")
				t.Cleanup(func() { set(kadm.DeleteConfig, "") })
			},
			config: "exactly.once.source.support: enabled",
			fails:  "transaction.boundary.interval.ms of %[2]s->%[3]s", fix: "raise transaction.max.timeout.ms to 30000 or more",
			run: "INVALID_TRANSACTION_TIMEOUT"},
		{name: "compacted target, source records without keys", needs: "a compacted topic refusing records without a key",
			prepare: func(t *testing.T, topic string) {
				src.createTopic(t, topic, 1, nil)
				tgt.createTopic(t, topic, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
				src.Produce(t, []*kgo.Record{{Topic: topic, Value: []byte("no key")}})
			},
			config: noConfigSync,
			fails:  "cleanup.policy of topic:%[1]s", fix: "--add-config cleanup.policy=delete",
			run: "INVALID_RECORD"},
		// Kafka 3.7 and later require min(min.insync.replicas, replicas)
		// in sync (KAFKA-15583): no failure, and preflight says so.
		{name: "min.insync.replicas above the target topic's replicas", needs: "min.insync.replicas",
			prepare: func(t *testing.T, topic string) {
				src.createTopic(t, topic, 1, nil)
				tgt.createTopic(t, topic, 1, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")})
				src.Produce(t, []*kgo.Record{{Topic: topic, Value: []byte("v")}})
			}},
		{name: "producer requests above what the target reads", needs: "socket.request.max.bytes",
			prepare: func(t *testing.T, topic string) { src.createTopic(t, topic, 1, nil) },
			config:  "producer.max.request.size: 157286400",
			fails:   "producer.max.request.size of %[2]s->%[3]s", fix: "set producer.max.request.size to 104857600 or less"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needs != "" {
				needsKafka(t, tt.needs)
			}
			if tt.kfakeOnly != "" && onKafka() {
				t.Skipf("on kfake only: %s", tt.kfakeOnly)
			}
			// Names of the row's own: the rows share the clusters.
			topic, source, target := uniq(t, fmt.Sprintf("pf%d", i)), uniq(t, fmt.Sprintf("src%d", i)), uniq(t, fmt.Sprintf("tgt%d", i))
			tt.prepare(t, topic)
			config := ""
			if tt.config != "" {
				config = "        " + tt.config + "\n"
			}
			cfg := flowConfig(t, side{alias: source, addr: src.Addr}, side{alias: target, addr: tgt.Addr}, fmt.Sprintf(`    topicsPattern: %q
    sourceConnector:
      config:
        replication.policy.class: identity
%s`, topic, config))
			began := time.Now()
			code, out := runs(t, time.Minute, "preflight", "-c", cfg)
			t.Logf("preflight took %s", time.Since(began).Round(time.Millisecond))
			if tt.fails == "" {
				if code != 0 {
					t.Fatalf("preflight exited %d:\n%s", code, out)
				}
				w := runWorker(t, cfg)
				tgt.waitEnds(t, topic, src.EndOffsets(t, topic), time.Minute)
				stopWorker(t, w)
				return
			}
			fails := fmt.Sprintf(tt.fails, topic, source, target)
			setting, subject, _ := strings.Cut(fails, " of ")
			row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `\s+` + regexp.QuoteMeta(subject) + `\s+` + regexp.QuoteMeta(setting) + `\s+fails\s+(.*)$`).FindStringSubmatch(out)
			if code != 1 || row == nil || !strings.Contains(out, "fails: "+fails+` on "`+target+`"`) {
				t.Fatalf("preflight exited %d, want 1 with a fails row for %s:\n%s", code, fails, out)
			}
			if fix := strings.ReplaceAll(tt.fix, "%[1]s", topic); !strings.Contains(row[1], fix) {
				t.Errorf("the row says %q, want it to say %q", row[1], fix)
			}
			if tt.run == "" {
				return
			}
			p := start(t, "run", "-c", cfg, "--http", "")
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("run's output:\n%s", p.output())
				}
			})
			testbed.WaitFor(t, time.Minute, "run to fail on "+tt.run, func() bool { return strings.Contains(p.output(), tt.run) })
		})
	}
}

// produceBig writes a record larger than a producer's default batch,
// uncompressed: kmirror forwards the batch as it is.
func produceBig(t *testing.T, c *bedCluster, topic string, value []byte) {
	t.Helper()
	cl := c.Client(t, kgo.ProducerBatchMaxBytes(int32(2*len(value))), kgo.MaxBufferedBytes(4*len(value)), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// seedAs writes the seed's KafkaMirrorMaker2 for the test clusters (see
// seedResource) under aliases and a target user of the test's own, so
// that its internal topics are its own on the shared clusters; with
// published, it keeps the seed's replication factors (3).
func seedAs(t *testing.T, src, tgt *bedCluster, topics, groups, user string, published bool) (path, source, target string) {
	t.Helper()
	path = seedResource(t, src, tgt, topics, groups)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	source, target = uniq(t, "seed-source"), uniq(t, "seed-target")
	text := strings.NewReplacer(`"my-source-cluster"`, strconv.Quote(source), `"my-target-cluster"`, strconv.Quote(target),
		"username: "+seedUser, "username: "+user).Replace(string(data))
	if published {
		text = strings.NewReplacer("heartbeats.topic.replication.factor: -1", "heartbeats.topic.replication.factor: 3",
			"checkpoints.topic.replication.factor: -1", "checkpoints.topic.replication.factor: 3").Replace(text)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, source, target
}

// The seed resource on a one-broker target: plan and preflight
// print validate's warnings first (the seed's producer.ack typo), and
// preflight fails on checkpoints.topic.replication.factor=3, on which run
// then fails.
func TestPreflightSeedOnOneBroker(t *testing.T) {
	needsKafka(t, "the seed's mutual TLS and SCRAM over TLS")
	src, tgt := clusters(t)
	user, password := uniq(t, "kafka.mm2.seed-user"), "pw-"+uniq(t, "seed")
	if _, err := tgt.admin(t).AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: password}}); err != nil {
		t.Fatal(err)
	}
	grant(t, src, seedSourceACLs(t, user, true)...)
	grant(t, tgt, seedTargetACLs(t, user)...)
	topic := uniq(t, "seed-t1")
	src.createTopic(t, topic, 1, nil)
	tgt.createTopic(t, topic, 1, nil)
	cfg, source, target := seedAs(t, src, tgt, topic, "^app1.*$", user, true)
	secrets := seedSecrets(t, src, tgt, user, password)
	const warning = `"producer.ack" (line 46): unknown key, ignored; did you mean producer.acks?`

	for _, cmd := range []string{"plan", "preflight"} {
		began := time.Now()
		code, out := runs(t, time.Minute, cmd, "-c", cfg, "--secrets-dir", secrets)
		t.Logf("%s took %s", cmd, time.Since(began).Round(time.Millisecond))
		noSecrets(t, cmd, out, []string{password})
		if first, _, _ := strings.Cut(out, "\n\n"); !strings.HasPrefix(first, "warnings\n") || !strings.Contains(first, warning) {
			t.Errorf("%s does not begin with the warning %q:\n%s", cmd, warning, out)
		}
		want, fails := 0, fmt.Sprintf(`checkpoints.topic.replication.factor of topic:%s.checkpoints.internal on %q`, source, target)
		if cmd == "preflight" {
			want = 1
		}
		if code != want || cmd == "preflight" && !strings.Contains(out, "fails: "+fails) {
			t.Errorf("%s exited %d, want %d naming %s:\n%s", cmd, code, want, fails, out)
		}
	}
	p := start(t, "run", "-c", cfg, "--secrets-dir", secrets, "--http", "")
	if code := p.exit(t, time.Minute); code != 1 {
		t.Errorf("run exited %d, want 1", code)
	}
	testbed.WaitFor(t, 10*time.Second, "run to fail on the replication factor", func() bool {
		return strings.Contains(p.output(), "replication.factor=3: INVALID_REPLICATION_FACTOR")
	})
}

// A user granted nothing at all, on Kafka's StandardAuthorizer: preflight
// prints the whole table, every row missing or unknown, one for each ACL
// of the KafkaUsers --kafkauser prints, and says what it cannot list;
// those KafkaUsers applied, it passes.
func TestPreflightWithNothingGranted(t *testing.T) {
	needsKafka(t, "the StandardAuthorizer")
	src, tgt := clusters(t)
	user, password := uniq(t, "kafka.mm2.nothing"), "pw-"+uniq(t, "nothing")
	if _, err := tgt.admin(t).AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: password}}); err != nil {
		t.Fatal(err)
	}
	topics := []string{uniq(t, "nothing-t1"), uniq(t, "nothing-t2")}
	for _, topic := range topics {
		src.createTopic(t, topic, 2, nil)
		tgt.createTopic(t, topic, 2, nil) // the seed creates no target topics
	}
	cfg, source, target := seedAs(t, src, tgt, strings.Join(topics, ", "), "^(app1.*|app2.*)$", user, false)
	secrets := seedSecrets(t, src, tgt, user, password)

	began := time.Now()
	code, out := runs(t, time.Minute, "preflight", "-c", cfg, "--secrets-dir", secrets)
	t.Logf("preflight with nothing granted took %s", time.Since(began).Round(time.Millisecond))
	noSecrets(t, "preflight", out, []string{password})
	if code != 1 || !strings.Contains(out, "\nmissing: ") {
		t.Fatalf("preflight exited %d, want 1 naming what is missing:\n%s", code, out)
	}
	rows := map[string]string{} // "cluster resource operation" → status
	for _, m := range regexp.MustCompile(`(?m)^(\S+)\s+((?:topic|group|transactionalId):\S+|cluster)\s+(literal|prefix)\s+(\w+)\s+(present|missing|unknown)`).FindAllStringSubmatch(out, -1) {
		rows[m[1]+" "+m[2]+" "+m[4]] = m[5]
		if m[5] == "present" {
			t.Errorf("present with nothing granted: %s", m[0])
		}
	}
	for _, topic := range topics {
		if note := fmt.Sprintf("cannot list topic %q on %s: needs Describe on topic:%s", topic, source, topic); !strings.Contains(out, note) {
			t.Errorf("no note %q", note)
		}
	}
	if note := fmt.Sprintf("cannot list the groups of %s matching group:app1* or group:app2*", source); !strings.Contains(out, note) {
		t.Errorf("no note %q", note)
	}

	code, users := runs(t, time.Minute, "preflight", "-c", cfg, "--secrets-dir", secrets, "--kafkauser")
	if code != 0 {
		t.Fatalf("preflight --kafkauser exited %d:\n%s", code, users)
	}
	dec := yaml.NewDecoder(strings.NewReader(users[strings.Index(users, "apiVersion:"):]))
	for {
		var u preflight.KafkaUser
		if err := dec.Decode(&u); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("decode the KafkaUsers: %v\n%s", err, users)
		}
		alias := u.Metadata.Labels["strimzi.io/cluster"]
		c := map[string]*bedCluster{source: src, target: tgt}[alias]
		if c == nil || u.Metadata.Name != user {
			t.Fatalf("KafkaUser %+v for cluster %q, want %q on %s or %s", u.Metadata, alias, user, source, target)
		}
		for _, a := range u.Spec.Authorization.ACLs {
			res := a.Resource.Type + ":" + a.Resource.Name
			if a.Resource.PatternType == preflight.Prefixed {
				res += "*"
			}
			if a.Resource.Type == preflight.TypeCluster {
				res = "cluster"
			}
			for _, op := range a.Operations {
				if _, ok := rows[alias+" "+res+" "+op]; !ok {
					t.Errorf("no row for %s %s %s, which the KafkaUser grants", alias, res, op)
				}
			}
		}
		grantUser(t, c, u)
	}
	if t.Failed() {
		t.Fatalf("preflight:\n%s", out)
	}
	code, out = runs(t, time.Minute, "preflight", "-c", cfg, "--secrets-dir", secrets)
	if code != 0 {
		t.Fatalf("with the KafkaUsers' ACLs, preflight exited %d:\n%s", code, out)
	}
}

// grantUser creates the ACLs of a KafkaUser, as Strimzi's User Operator
// does.
func grantUser(t *testing.T, c *bedCluster, u preflight.KafkaUser) {
	t.Helper()
	ops := map[string]kadm.ACLOperation{"Read": kadm.OpRead, "Write": kadm.OpWrite, "Create": kadm.OpCreate, "Describe": kadm.OpDescribe,
		"Alter": kadm.OpAlter, "DescribeConfigs": kadm.OpDescribeConfigs, "AlterConfigs": kadm.OpAlterConfigs, "IdempotentWrite": kadm.OpIdempotentWrite}
	for _, a := range u.Spec.Authorization.ACLs {
		b := kadm.NewACLs().Allow("User:" + u.Metadata.Name).AllowHosts(a.Host)
		switch a.Resource.Type {
		case preflight.TypeTopic:
			b = b.Topics(a.Resource.Name)
		case preflight.TypeGroup:
			b = b.Groups(a.Resource.Name)
		case preflight.TypeTransactionalID:
			b = b.TransactionalIDs(a.Resource.Name)
		case preflight.TypeCluster:
			b = b.Clusters()
		}
		pattern := kadm.ACLPatternLiteral
		if a.Resource.PatternType == preflight.Prefixed {
			pattern = kadm.ACLPatternPrefixed
		}
		var want []kadm.ACLOperation
		for _, op := range a.Operations {
			want = append(want, ops[op])
		}
		res, err := c.admin(t).CreateACLs(context.Background(), b.ResourcePatternType(pattern).Operations(want...))
		if err == nil {
			for _, r := range res {
				err = errors.Join(err, r.Err)
			}
		}
		if err != nil {
			t.Fatalf("create the ACL %+v: %v", a, err)
		}
	}
}
