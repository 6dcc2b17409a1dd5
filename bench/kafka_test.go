package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/bench/internal/workload"
	"github.com/kmirror/kmirror/internal/testbed"
)

// TestKafkaModeSmoke runs the real-Kafka mode (MirrorMaker 2 against
// kmirror) on a tiny workload when the Apache Kafka test bed is there
// (KMIRROR_KAFKA). It checks that every figure was measured and is sane,
// never how fast anything was.
func TestKafkaModeSmoke(t *testing.T) {
	jars := testbed.KafkaJars()
	if jars == "" {
		t.Skipf("%s is not set: the real-Kafka mode needs the Apache Kafka jars", testbed.KafkaEnv)
	}
	if testing.Short() {
		t.Skip("starts Apache Kafka and MirrorMaker 2")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	o := options{
		spec:         workload.Spec{Records: 20_000, Size: 1024, Partitions: 4, Keys: workload.KeysNone},
		runs:         1,
		steady:       3 * time.Second,
		kafka:        jars,
		seedProducer: true,
		syncSamples:  3,
		lag:          2_000,
		logs:         t.TempDir(),
		logf:         t.Logf,
	}
	rep, err := kafkaRun(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	rep.command = "TestKafkaModeSmoke"
	rr := rep.runs[0]
	for _, name := range []string{mirrorMM2, mirrorKmirror} {
		f := rr.mirrors[name]
		if f == nil {
			t.Fatalf("%s: not measured", name)
		}
		c := f.catchUp
		if c.Records != int64(o.spec.Records) || c.Seconds <= 0 || c.Bytes <= 0 || c.CPUSeconds <= 0 || c.MaxRSS <= 0 || c.BrokerCPUSeconds <= 0 {
			t.Errorf("%s catch-up: a figure is missing: %+v", name, c)
		}
		if s := f.steady; s == nil || s.Rate <= 0 || s.P50 <= 0 || s.P99 < s.P50 {
			t.Errorf("%s steady load: %+v", name, s)
		}
		if f.sync.samples != o.syncSamples || len(f.sync.delays)+f.sync.never != f.sync.samples {
			t.Errorf("%s group sync: %+v", name, f.sync)
		}
		for _, d := range f.sync.delays {
			if d < 0 || d > syncNever {
				t.Errorf("%s group sync delay %s out of range", name, d)
			}
		}
		for _, g := range []string{groupCaught, groupLagging} {
			cf := f.cut[g]
			if cf == nil || len(cf.twice) != min(o.spec.Partitions, cutPartitionsMax) || len(cf.never) != len(cf.twice) {
				t.Fatalf("%s cutover, %s group: %+v", name, g, cf)
			}
			// No mirror may lose what the consumer never read on the
			// source, whatever its translation.
			if n := sum(cf.never); n != 0 {
				t.Errorf("%s cutover, %s group: %d records never seen %v", name, g, n, cf.never)
			}
		}
	}
	// kmirror's translation is exact: a switch repeats and skips nothing.
	for g, cf := range rr.mirrors[mirrorKmirror].cut {
		if n := sum(cf.twice); n != 0 || cf.unsynced != 0 {
			t.Errorf("kmirror cutover, %s group: %d records seen twice %v, %d partitions unsynced", g, n, cf.twice, cf.unsynced)
		}
	}
	for _, r := range rep.rows() {
		if !r.ok {
			t.Errorf("row %q: not measured for both mirrors", r.name)
		}
	}
	md := rep.markdown()
	for _, want := range []string{"| measurement | MirrorMaker 2 | kmirror | kmirror ÷ MM2 |", "group sync delay p99", "records seen twice", "Apache Kafka " + rep.version} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	t.Log("\n" + rep.text())
}

// TestBrokersKafkaSmoke runs the default mode's table on Apache Kafka
// brokers (-brokers-kafka) on a tiny workload when the test bed is there:
// every figure measured, on the brokers the header names.
func TestBrokersKafkaSmoke(t *testing.T) {
	jars := testbed.KafkaJars()
	if jars == "" {
		t.Skipf("%s is not set: -brokers-kafka needs the Apache Kafka jars", testbed.KafkaEnv)
	}
	if testing.Short() {
		t.Skip("starts Apache Kafka")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o := options{
		spec:         workload.Spec{Records: 5_000, Size: 512, Partitions: 4, Keys: workload.KeysNone},
		tasks:        2,
		runs:         1,
		skipRaw:      true, // a bed fewer: the raw limit and kmirror
		brokersKafka: jars,
		logf:         t.Logf,
	}
	rep, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	rep.command = "TestBrokersKafkaSmoke"
	if want := "Apache Kafka " + testbed.KafkaVersion(jars); !strings.Contains(rep.text(), want) {
		t.Errorf("the header does not name %q:\n%s", want, rep.text())
	}
	for name, r := range rep.runs[0].rows {
		if r.Records != int64(o.spec.Records) || r.Seconds <= 0 || r.CPUSeconds <= 0 || r.BrokerCPUSeconds <= 0 {
			t.Errorf("%s: a figure is missing: %+v", name, r)
		}
	}
	if _, ok := rep.runs[0].rows[rowMirror]; !ok {
		t.Errorf("kmirror was not measured:\n%s", rep.text())
	}
}
