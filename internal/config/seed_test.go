package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/testbed"
)

// seedSecrets writes the Kubernetes secrets the seed's resource names.
func seedSecrets(t *testing.T) string {
	t.Helper()
	dir, _ := testbed.SeedSecrets(t)
	return dir
}

func TestSeedResource(t *testing.T) {
	cfg, err := config.Load("testdata/seed-kmm2.yaml", config.Options{SecretsDir: seedSecrets(t)})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	want := []string{
		"warning: line 6: 1210 non-breaking spaces (U+00A0), as in text copied from a web page, are read as spaces",
		"note: spec.replicas (line 9): kmirror starts no processes: run 2 kmirror workers with this configuration to share the work",
		"note: spec.version (line 8): ignored: kmirror speaks to any Kafka version the brokers offer",
		`note: spec.clusters[1].config."config.storage.replication.factor" (line 38): a Kafka Connect key; kmirror has no Connect worker and ignores it`,
		`note: spec.clusters[1].config."offset.storage.replication.factor" (line 39): a Kafka Connect key; kmirror has no Connect worker and reads it only to create MirrorMaker 2's offsets topic in 'kmirror migrate hand-back'`,
		`note: spec.clusters[1].config."status.storage.replication.factor" (line 40): a Kafka Connect key; kmirror has no Connect worker and ignores it`,
		`warning: spec.clusters[1].config."producer.ack" (line 46): unknown key, ignored; did you mean producer.acks?`,
		`note: spec.clusters[1].config."producer.linger.ms" (line 50): ignored: kmirror sends each fetch at once, without waiting 1.5s for more records; a fetch is already a batch`,
		`warning: spec.clusters[1].config.offset_flush_timeout (line 53): unknown key, ignored; did you mean offset.flush.timeout.ms?`,
		`warning: spec.clusters[1].config.task_shutdown_graceful_timeout_ms (line 54): unknown key, ignored; did you mean task.shutdown.graceful.timeout.ms?`,
		`note: spec.mirrors[0].checkpointConnector.tasksMax (line 71): accepted; no effect in kmirror: kmirror translates every group of a flow in one loop per worker; the group offsets of a flow are fetched in one request`,
	}
	if got := config.DiagStrings(cfg.Diagnostics); !slices.Equal(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if cfg.Format != config.FormatStrimzi || cfg.Version != "kafka.strimzi.io/v1beta2" || cfg.Replicas != 2 {
		t.Errorf("format %s %s replicas %d", cfg.Format, cfg.Version, cfg.Replicas)
	}
	src, dst := cfg.Cluster("my-source-cluster"), cfg.Cluster("my-target-cluster")
	if src == nil || dst == nil {
		t.Fatal("clusters missing")
	}
	if src.TLS == nil || src.TLS.Certificate == nil || src.SASL != nil {
		t.Errorf("source: want TLS with a client certificate and no SASL: %+v", src)
	}
	if dst.SASL == nil || dst.SASL.Mechanism != config.MechanismSCRAMSHA512 || dst.SASL.Username != "kafka.mm2.migration-user" ||
		dst.SASL.Password.Reveal() != "target-s3cret" || dst.TLS == nil || dst.TLS.RootCAs == nil {
		t.Errorf("target: %+v %+v", dst.SASL, dst.TLS)
	}
	if len(cfg.Flows) != 1 {
		t.Fatalf("%d flows", len(cfg.Flows))
	}
	f := cfg.Flows[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"flow", f.Name(), "my-source-cluster->my-target-cluster"},
		{"tasks.max", f.TasksMax, 32},
		{"policy", f.Replication.Name(), "identity"},
		{"remote name", f.Replication.RemoteTopic("my-source-cluster", "app1-t1"), "app1-t1"},
		{"offset syncs", f.OffsetSyncsLocation, "target"},
		{"sync acls", f.SyncTopicACLs, false},
		{"sync configs", f.SyncTopicConfigs, false},
		{"refresh topics", f.RefreshTopics, false},
		{"topic creation", f.TopicCreation, false},
		{"sync groups", f.SyncGroupOffsets, true},
		{"sync interval", f.SyncGroupOffsetsInterval, 10 * time.Second},
		{"checkpoints rf", f.CheckpointsReplicationFactor, int16(3)},
		{"heartbeats rf", f.HeartbeatsReplicationFactor, int16(3)},
		{"topics", f.Topics.String(), "app1-t1, app1-t2, app2-t1, app3-t1, app3-t2"},
		{"groups", f.Groups.String(), "^(app1.*|app2.*)$"},
		{"acks (producer.ack is a typo)", f.Producer.Acks, "all"},
		{"idempotent", f.Producer.Idempotent, true},
		{"batch size", f.Producer.BatchSize, int32(config.DefaultBatchSize)},
		{"buffer memory", f.Producer.BufferMemory, int64(225000000)},
		{"compression", f.Producer.Compression, "gzip"},
		{"linger", f.Producer.Linger, 1500 * time.Millisecond},
		{"max request", f.Producer.MaxRequestSize, int32(157286400)},
		{"request timeout", f.Producer.RequestTimeout, time.Minute},
		{"start at", f.Consumer.StartAt, "earliest"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestStrictTurnsWarningsIntoErrors(t *testing.T) {
	_, err := config.Load("testdata/seed-kmm2.yaml", config.Options{SecretsDir: seedSecrets(t), Strict: true})
	if err == nil {
		t.Fatal("strict load of the seed succeeded despite its unknown keys")
	}
	msg := err.Error()
	for _, w := range []string{`"producer.ack" (line 46): unknown key, ignored; did you mean producer.acks? (--strict)`, "4 problems"} {
		if !strings.Contains(msg, w) {
			t.Errorf("strict error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "Kafka Connect key") {
		t.Errorf("notes must not fail a strict load:\n%s", msg)
	}
}

func TestV1Resource(t *testing.T) {
	cfg, err := config.Load("testdata/v1-kmm2.yaml", config.Options{SecretsDir: seedSecrets(t)})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if cfg.Version != "kafka.strimzi.io/v1" || len(cfg.Clusters) != 2 || len(cfg.Flows) != 1 {
		t.Fatalf("version %s, %d clusters, %d flows", cfg.Version, len(cfg.Clusters), len(cfg.Flows))
	}
	f := cfg.Flows[0]
	if f.Source != "my-source-cluster" || f.Target != "my-target-cluster" || f.TasksMax != 16 {
		t.Errorf("flow %s tasks %d", f.Name(), f.TasksMax)
	}
	if !f.Consumer.ReadCommitted || f.Producer.Compression != "zstd" || !f.SyncGroupOffsets {
		t.Errorf("client settings not applied: %+v %+v", f.Consumer, f.Producer)
	}
	if ok, _ := f.TopicsExclude.Match("orders-retry"); !ok {
		t.Error("topicsExcludePattern not applied")
	}
	dst := cfg.Cluster("my-target-cluster")
	if dst.TLS == nil || len(dst.TLS.CAs) != 1 || dst.TLS.CAs[0] != "secret my-target-cluster-cluster-ca-cert/ca.crt" {
		t.Errorf("pattern *.crt: CAs %v", dst.TLS.CAs)
	}
	var notes []string
	for _, d := range cfg.Diagnostics {
		if d.Level == config.LevelWarning {
			t.Errorf("unexpected warning: %s", d)
		}
		notes = append(notes, d.Key)
	}
	for _, k := range []string{"spec.target.groupId", "spec.target.configStorageTopic"} {
		if !slices.Contains(notes, k) {
			t.Errorf("no note for %s in %v", k, notes)
		}
	}
}
