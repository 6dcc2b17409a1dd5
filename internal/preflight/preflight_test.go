package preflight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.yaml.in/yaml/v3"

	"github.com/kmirror/kmirror/internal/app"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/migrate"
	"github.com/kmirror/kmirror/internal/testbed"
)

const (
	mech       = "SCRAM-SHA-512"
	adminPass  = "admin-pw"
	mirrorPass = "mirror-pw"
)

// secured is an ACL-enabled kfake cluster with a superuser "admin" and
// the user kmirror connects as, holding acls.
type secured struct {
	*testbed.Cluster
	user string
	adm  *kadm.Client
	// super authenticates as a superuser.
	super kgo.Opt
}

func newSecured(t *testing.T, user string, acls ...kfake.ACL) *secured {
	t.Helper()
	c := testbed.NewCluster(t, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser(mech, "admin", adminPass), kfake.User(mech, user, mirrorPass, acls...))
	super := kgo.SASL(scram.Auth{User: "admin", Pass: adminPass}.AsSha512Mechanism())
	return &secured{Cluster: c, user: user, adm: kadm.NewClient(c.Client(t, super)), super: super}
}

// seedSourceACLs are the seed's source KafkaUser's ACLs.
func seedSourceACLs() []kfake.ACL {
	return []kfake.ACL{
		allow(kmsg.ACLResourceTypeTopic, "*", kmsg.ACLOperationRead),
		allow(kmsg.ACLResourceTypeTopic, "*", kmsg.ACLOperationDescribeConfigs),
		allow(kmsg.ACLResourceTypeGroup, "*", kmsg.ACLOperationDescribe),
		allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationDescribe),
	}
}

func allow(typ kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
	return kfake.ACL{Resource: typ, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
}

// loadConfig writes a native configuration for src→tgt, connecting as
// their users with SCRAM-SHA-512, and loads it.
func loadConfig(t *testing.T, src, tgt *secured, mirror string) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`connectCluster: target
clusters:
  - alias: source
    bootstrapServers: %s
    authentication: {type: scram-sha-512, username: %s, password: %s}
  - alias: target
    bootstrapServers: %s
    authentication: {type: scram-sha-512, username: %s, password: %s}
mirrors:
  - sourceCluster: source
    targetCluster: target
%s`, src.Addr, src.user, mirrorPass, tgt.Addr, tgt.user, mirrorPass, mirror)
	dir := t.TempDir()
	testbed.WriteFiles(t, dir, map[string][]byte{"kmirror.yaml": []byte(text)})
	cfg, err := config.Load(filepath.Join(dir, "kmirror.yaml"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// seedMirror is the seed's mirror, reduced to one topic and its groups.
const seedMirror = `    topicsPattern: "app1-t1"
    groupsPattern: "^(app1.*|app2.*)$"
    sourceConnector:
      config:
        replication.policy.class: io.strimzi.kafka.connect.mirror.IdentityReplicationPolicy
        offset-syncs.topic.location: target
        sync.topic.acls.enabled: "false"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`

// prepare creates the source topics, writes n records to each partition
// 0, and commits group app1-consumer at offset 5 of app1-t1.
func prepare(t *testing.T, src *secured, topics ...string) {
	t.Helper()
	ctx := t.Context()
	for _, name := range topics {
		if _, err := src.adm.CreateTopic(ctx, 1, -1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	cl := src.Client(t, kgo.SASL(scram.Auth{User: "admin", Pass: adminPass}.AsSha512Mechanism()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for _, name := range topics {
		for i := range 10 {
			recs = append(recs, &kgo.Record{Topic: name, Value: fmt.Appendf(nil, "%s-%d", name, i)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "app1-t1", Partition: 0, At: 5, LeaderEpoch: -1})
	if resp, err := src.adm.CommitOffsets(ctx, "app1-consumer", offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
}

// committed counts the records of partition 0 of topic a read_committed
// reader sees.
func (c *secured) committed(t *testing.T, topic string) int {
	t.Helper()
	cl := c.Client(t, c.super, kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	ends, err := c.adm.ListEndOffsets(t.Context(), topic)
	end, _ := ends.Lookup(topic, 0)
	if err != nil || end.Err != nil {
		t.Fatalf("end offset of %s: %v %v", topic, err, end.Err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	n := 0
	for next := int64(0); next < end.Offset; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			if !r.Attrs.IsControl() {
				n++
			}
		})
	}
	return n
}

func run(t *testing.T, cfg *config.Config) Report {
	t.Helper()
	return runWith(t, cfg, false)
}

// runWith runs preflight, with what migrate rollback needs when rollback
// is set.
func runWith(t *testing.T, cfg *config.Config, rollback bool) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg, Options{Timeout: 10 * time.Second, Rollback: rollback}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unreachable() {
		t.Fatalf("clusters %+v", rep.Clusters)
	}
	return rep
}

func missing(rep Report) []string {
	var out []string
	for _, r := range rep.Missing() {
		out = append(out, fmt.Sprintf("%s %s %s", r.Cluster, r.Resource, r.Operation))
	}
	return out
}

// replicate runs kmirror on cfg until the target has every record of the
// topics (source name → target name) and group app1-consumer is synced
// to offset 5 of the first topic's target.
func replicate(t *testing.T, cfg *config.Config, tgt *secured, topics map[string]string, first string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- app.New(cfg, slog.New(slog.DiscardHandler), app.Options{}).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	for _, target := range topics {
		testbed.WaitFor(t, 20*time.Second, "records on "+target, func() bool {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("run stopped: %v", err)
			default:
			}
			ends, err := tgt.adm.ListEndOffsets(ctx, target)
			o, ok := ends.Lookup(target, 0)
			return err == nil && ok && o.Err == nil && o.Offset >= 10
		})
		// Exactly-once mode's transaction markers take offsets too.
		if n := tgt.committed(t, target); n != 10 {
			t.Fatalf("%s: a read_committed reader sees %d records, want 10", target, n)
		}
	}
	testbed.WaitFor(t, 20*time.Second, "group offsets synced", func() bool {
		resp, err := tgt.adm.FetchOffsets(ctx, "app1-consumer")
		o, ok := resp.Lookup(topics[first], 0)
		return err == nil && ok && o.At == 5
	})
}

// A source user holding exactly the seed's source ACLs passes and
// replicates; without DescribeConfigs it fails, naming just that.
func TestSeedSourceUser(t *testing.T) {
	tests := []struct {
		name     string
		drop     kmsg.ACLOperation // an operation of the seed's ACLs not granted
		rollback bool              // preflight --rollback
		want     []string
	}{
		{name: "seed ACLs"},
		{name: "without DescribeConfigs", drop: kmsg.ACLOperationDescribeConfigs, want: []string{"source topic:app1-t1 DescribeConfigs"}},
		// The seed's source user is read-only: rolling a group back
		// commits on the source, and preflight says so only when asked.
		{name: "rollback asked", rollback: true, want: []string{"source group:app1-consumer Read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var acls []kfake.ACL
			for _, a := range seedSourceACLs() {
				if a.Operation != tt.drop {
					acls = append(acls, a)
				}
			}
			src := newSecured(t, "mirror", acls...)
			tgt := testbed.NewCluster(t, kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser(mech, "mirror", mirrorPass))
			super := kgo.SASL(scram.Auth{User: "mirror", Pass: mirrorPass}.AsSha512Mechanism())
			tgtS := &secured{Cluster: tgt, user: "mirror", adm: kadm.NewClient(tgt.Client(t, super)), super: super}
			prepare(t, src, "app1-t1", "other")
			cfg := loadConfig(t, src, tgtS, seedMirror)
			rep := runWith(t, cfg, tt.rollback)
			if got := missing(rep); !slices.Equal(got, tt.want) {
				t.Fatalf("missing %q, want %q\n%+v", got, tt.want, rep.Results)
			}
			for _, r := range rep.Results {
				if r.Status == Unknown {
					t.Errorf("unknown: %+v", r)
				}
			}
			if tt.want == nil {
				replicate(t, cfg, tgtS, map[string]string{"app1-t1": "app1-t1"}, "app1-t1")
			}
		})
	}
}

// The KafkaUsers --kafkauser prints, applied as the only ACLs of fresh
// clusters, let preflight pass and kmirror copy records, sync topic
// configs and ACLs, and sync a group's offsets; in exactly-once mode too,
// which writes in transactions; and with --rollback, roll a group back to
// the source.
func TestKafkaUsersSuffice(t *testing.T) {
	for _, mode := range []struct {
		name, config string
		rollback     bool
	}{
		{"default mode", "", false},
		{"exactly-once mode", `    sourceConnector:
      config:
        exactly.once.source.support: enabled
`, false},
		{"rollback", "", true},
	} {
		t.Run(mode.name, func(t *testing.T) { kafkaUsersSuffice(t, mode.config, mode.rollback) })
	}
}

func kafkaUsersSuffice(t *testing.T, extra string, rollback bool) {
	src := newSecured(t, "mirror-source")
	tgt := newSecured(t, "mirror-target")
	prepare(t, src, "app1-t1", "app2-x", "other")
	cfg := loadConfig(t, src, tgt, `    topicsPattern: "app1-t1, app2.*"
    groupsPattern: "^(app1.*|app2.*)$"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`+extra)
	out, err := YAML(KafkaUsers(cfg, UserOptions{Rollback: rollback}))
	if err != nil {
		t.Fatal(err)
	}
	users := decodeUsers(t, out)
	if len(users) != 2 {
		t.Fatalf("%d users, want 2:\n%s", len(users), out)
	}
	for _, u := range users {
		c := map[string]*secured{"source": src, "target": tgt}[u.Metadata.Labels["strimzi.io/cluster"]]
		if c == nil || u.Metadata.Name != c.user || u.Spec.Authentication.Type != "scram-sha-512" {
			t.Fatalf("user %+v", u.Metadata)
		}
		apply(t, c.adm, u)
	}

	rep := runWith(t, cfg, rollback)
	if got := missing(rep); len(got) > 0 {
		t.Fatalf("missing %q", got)
	}
	for _, r := range rep.Results {
		if r.Status != Present {
			t.Errorf("%s %s %s: %s (%s)", r.Cluster, r.Resource, r.Operation, r.Status, r.Reason)
		}
	}
	if _, err := src.adm.AlterTopicConfigs(t.Context(), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")}}, "app2-x"); err != nil {
		t.Fatal(err)
	}
	replicate(t, cfg, tgt, map[string]string{"app1-t1": "source.app1-t1", "app2-x": "source.app2-x"}, "app1-t1")
	testbed.WaitFor(t, 20*time.Second, "topic config synced", func() bool {
		rcs, err := tgt.adm.DescribeTopicConfigs(t.Context(), "source.app2-x")
		if err != nil || len(rcs) != 1 {
			return false
		}
		for _, c := range rcs[0].Configs {
			if c.Key == "retention.ms" && c.Value != nil && *c.Value == "3600000" {
				return true
			}
		}
		return false
	})
	testbed.WaitFor(t, 20*time.Second, "topic ACLs synced", func() bool {
		res, err := tgt.adm.DescribeACLs(t.Context(), kadm.NewACLs().Topics("source.app1-t1").ResourcePatternType(kadm.ACLPatternLiteral).
			Allow("User:mirror-source").AllowHosts().Operations(kadm.OpRead))
		return err == nil && len(res) == 1 && len(res[0].Described) == 1
	})
	if !rollback {
		return
	}
	// The group synced to offset 5 on the target goes back to 5 on the
	// source, committed by the source user.
	b, err := migrate.Rollback(t.Context(), cfg, "app1-consumer", true, slog.New(slog.DiscardHandler))
	if err != nil || !b.Committed {
		t.Fatalf("rollback: %v, %+v", err, b)
	}
	resp, err := src.adm.FetchOffsets(t.Context(), "app1-consumer")
	if o, ok := resp.Lookup("app1-t1", 0); err != nil || !ok || o.At != 5 {
		t.Fatalf("app1-consumer on the source after the rollback: %+v %v", o, err)
	}
}

// In exactly-once mode, a target user without Write on the flow's
// transactional ids is told so by preflight, and by the run, naming the
// permission.
func TestExactlyOnceNeedsTransactionalIDs(t *testing.T) {
	src := newSecured(t, "mirror-source")
	tgt := newSecured(t, "mirror-target")
	prepare(t, src, "app1-t1")
	cfg := loadConfig(t, src, tgt, `    topicsPattern: "app1-t1"
    sourceConnector:
      config:
        exactly.once.source.support: enabled
`)
	out, err := YAML(KafkaUsers(cfg, UserOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range decodeUsers(t, out) {
		c := map[string]*secured{"source": src, "target": tgt}[u.Metadata.Labels["strimzi.io/cluster"]]
		u.Spec.Authorization.ACLs = slices.DeleteFunc(u.Spec.Authorization.ACLs, func(a ACL) bool { return a.Resource.Type == TypeTransactionalID })
		apply(t, c.adm, u)
	}
	rep := run(t, cfg)
	if got, want := missing(rep), []string{"target transactionalId:kmirror.source.target.* Write"}; !slices.Equal(got, want) {
		t.Fatalf("missing %q, want %q", got, want)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = app.New(cfg, slog.New(slog.DiscardHandler), app.Options{}).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "missing Write on TransactionalId:kmirror.source.target.") {
		t.Fatalf("run: %v, want the missing permission named", err)
	}
}

func decodeUsers(t *testing.T, out []byte) []KafkaUser {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	var users []KafkaUser
	for {
		var u KafkaUser
		err := dec.Decode(&u)
		if errors.Is(err, io.EOF) {
			return users
		}
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, out)
		}
		users = append(users, u)
	}
}

// apply creates the ACLs of a KafkaUser for its principal.
func apply(t *testing.T, adm *kadm.Client, u KafkaUser) {
	t.Helper()
	for _, a := range u.Spec.Authorization.ACLs {
		b := kadm.NewACLs().Allow("User:" + u.Metadata.Name).AllowHosts(a.Host)
		switch a.Resource.Type {
		case TypeTopic:
			b = b.Topics(a.Resource.Name)
		case TypeGroup:
			b = b.Groups(a.Resource.Name)
		case TypeCluster:
			b = b.Clusters()
		case TypeTransactionalID:
			b = b.TransactionalIDs(a.Resource.Name)
		default:
			t.Fatalf("resource %+v", a.Resource)
		}
		if a.Resource.PatternType == Prefixed {
			b = b.ResourcePatternType(kadm.ACLPatternPrefixed)
		} else {
			b = b.ResourcePatternType(kadm.ACLPatternLiteral)
		}
		var ops []kadm.ACLOperation
		for _, op := range a.Operations {
			ops = append(ops, kafkaOps[op])
		}
		res, err := adm.CreateACLs(t.Context(), b.Operations(ops...))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL %+v: %v", a, r.Err)
			}
		}
	}
}
