package main_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// The seed's warnings: what validate says of the resource as published,
// by key ("" for the line of non-breaking spaces).
var seedWarnings = []string{"", `spec.clusters[1].config."producer.ack"`, "spec.clusters[1].config.offset_flush_timeout",
	"spec.clusters[1].config.task_shutdown_graceful_timeout_ms"}

// The seed example, walked as examples/seed/kmm2-local.yaml says, with
// real processes from the repository's root: the dev clusters making up
// the secrets, then validate (the seed's own warnings and no other),
// preflight and run on the resource; records written to the seed's
// topics and a group's offsets committed on the source reach the target,
// status says the topics caught up, and verify finds them identical.
func TestSeedExampleWalk(t *testing.T) {
	secrets := filepath.Join(t.TempDir(), "kmirror-seed")
	cmds := exampleCommands(t)
	documented := func(name string) []string {
		t.Helper()
		args, ok := cmds[name]
		if !ok {
			t.Fatalf("%s names no kmirror %s command", exampleLocal, name)
		}
		args = slices.Clone(args)
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "/tmp/kmirror-seed", secrets)
		}
		return args
	}
	root := func(args ...string) *exec.Cmd {
		c := exec.Command(binary, args...)
		c.Dir = "../.."
		return c
	}
	runsInRoot := func(args ...string) (int, string) {
		t.Helper()
		p := startCmd(t, root(args...))
		return p.exit(t, 2*time.Minute), p.output()
	}
	const config = "examples/seed/kmm2-local.yaml"

	dev := startCmd(t, root(documented("dev-cluster")...))
	dev.waitFor(t, "secrets in "+secrets, 30*time.Second)
	brokers := map[string]string{}
	for _, line := range strings.Split(dev.output(), "\n") {
		var alias, addrs string
		if _, err := fmt.Sscanf(line, "dev-cluster ready: cluster=%s brokers=%s", &alias, &addrs); err == nil {
			brokers[alias] = addrs
		}
	}
	if len(brokers) != 2 || !strings.HasPrefix(brokers["my-source-cluster"], "127.0.0.1:19093,") || !strings.HasPrefix(brokers["my-target-cluster"], "127.0.0.1:29093,") {
		t.Fatalf("dev-cluster's clusters %v:\n%s", brokers, dev.output())
	}

	code, out := runsInRoot("validate", "-c", config, "--secrets-dir", secrets, "--json")
	var v struct {
		Valid      bool
		Warnings   []struct{ Key, Message string }
		NotChecked []string
		Secrets    []string
	}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || !v.Valid || len(v.NotChecked) != 0 || len(v.Secrets) != 5 {
		t.Fatalf("validate exited %d (%v):\n%s", code, err, out)
	}
	var keys []string
	for _, w := range v.Warnings {
		keys = append(keys, w.Key)
	}
	if !slices.Equal(keys, seedWarnings) {
		t.Errorf("validate warns of %q, want the seed's own %q:\n%s", keys, seedWarnings, out)
	}

	if code, out := runsInRoot("preflight", "-c", config, "--secrets-dir", secrets); code != 0 || !strings.Contains(out, "ok: nothing missing or failing") {
		t.Fatalf("preflight exited %d:\n%s", code, out)
	}

	// The documented command, without the status page, whose port the
	// tests of other packages may hold.
	w := startCmd(t, root(append(documented("run"), "--http", "")...))
	w.waitFor(t, "running; stop with SIGINT or SIGTERM", time.Minute)

	// The seed's topics written on the source, with the client
	// certificate dev-cluster made; a group of the seed's pattern
	// commits on the source.
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(secrets, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	pair, err := tls.X509KeyPair(read("mm2-source-cluster/tls.crt"), read("mm2-source-cluster/tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	srcTLS := trust(t, filepath.Join(secrets, "my-source-cluster-cluster-ca-cert/ca.crt"))
	srcTLS.Certificates = []tls.Certificate{pair}
	src := kadmClient(t, brokers["my-source-cluster"], kgo.DialTLSConfig(srcTLS))
	tgt := kadmClient(t, brokers["my-target-cluster"], kgo.DialTLSConfig(trust(t, filepath.Join(secrets, "my-target-cluster-cluster-ca-cert/ca.crt"))),
		kgo.SASL(scram.Auth{User: "kafka.mm2.migration-user", Pass: strings.TrimSpace(string(read("mm2-target-cluster/password")))}.AsSha512Mechanism()))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topics := []string{"app1-t1", "app1-t2", "app2-t1", "app3-t1", "app3-t2"}
	ends, err := src.ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	ends.Each(func(o kadm.ListedOffset) {
		for i := range 40 {
			recs = append(recs, &kgo.Record{Topic: o.Topic, Partition: o.Partition, Key: fmt.Appendf(nil, "k%d", i%7),
				Value: fmt.Appendf(nil, "%s/%d/%d", o.Topic, o.Partition, i), Headers: []kgo.RecordHeader{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}},
				Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i))})
		}
	})
	if len(recs) != 40*9 {
		t.Fatalf("%d records for the seed's 9 partitions", len(recs))
	}
	producer := newManualProducer(t, brokers["my-source-cluster"], kgo.DialTLSConfig(srcTLS))
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to the source: %v", err)
	}
	committed := kadm.Offsets{}
	committed.Add(kadm.Offset{Topic: "app1-t1", Partition: 2, At: 17, LeaderEpoch: -1})
	committed.Add(kadm.Offset{Topic: "app2-t1", Partition: 0, At: 40, LeaderEpoch: -1})
	if _, err := src.CommitOffsets(ctx, "app1-consumer", committed); err != nil {
		t.Fatal(err)
	}

	testbed.WaitFor(t, 2*time.Minute, "status to say every topic caught up", func() bool {
		code, out := runsInRoot("status", "-c", config, "--secrets-dir", secrets, "--json")
		var r status.Report
		i := strings.Index(out, "{")
		if code != 0 || i < 0 || json.Unmarshal([]byte(out[i:]), &r) != nil || len(r.Flows) != 1 {
			t.Logf("status exited %d:\n%s", code, out)
			return false
		}
		copied := map[string]int64{}
		for _, tp := range r.Flows[0].Topics {
			if tp.LagRecords == 0 {
				copied[tp.Topic] = tp.Copied
			}
		}
		for _, name := range topics {
			if copied[name] != 40*int64(len(ends[name])) {
				return false
			}
		}
		return true
	})
	testbed.WaitFor(t, time.Minute, "app1-consumer's offsets on the target", func() bool {
		fetched, err := tgt.FetchOffsets(ctx, "app1-consumer")
		if err != nil {
			return false
		}
		a, okA := fetched.Lookup("app1-t1", 2)
		b, okB := fetched.Lookup("app2-t1", 0)
		return okA && okB && a.At == 17 && b.At == 40
	})

	if code, out := runsInRoot("verify", "-c", config, "--secrets-dir", secrets, "--topic", strings.Join(topics, ",")); code != 0 {
		t.Fatalf("verify exited %d:\n%s", code, out)
	}
	if err := w.cmd.Process.Signal(sigterm); err != nil {
		t.Fatal(err)
	}
	if code := w.exit(t, time.Minute); code != 0 {
		t.Errorf("run exited %d after SIGTERM:\n%s", code, w.output())
	}
}

// kadmClient is an admin client of brokers, closed with the test.
func kadmClient(t *testing.T, brokers string, opts ...kgo.Opt) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(strings.Split(brokers, ",")...))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// newManualProducer is a client that writes each record to the partition
// it names, closed with the test.
func newManualProducer(t *testing.T, brokers string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
