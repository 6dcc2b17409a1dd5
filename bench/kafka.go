package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kmirror/kmirror/internal/testbed"
)

// Settings of the real-Kafka mode (go run ./bench -kafka 4).
const (
	// brokerHeap holds a node's metadata, caches and requests; records
	// live on disk and in the page cache.
	brokerHeap = "2g"
	// mm2Heap fits the seed's producer.buffer.memory (225 MB) per source
	// task's producer, two tasks, and the consumers' fetch buffers.
	mm2Heap = "2g"
	// kafkaTasks is tasks.max of both mirrors on the two-core machine: a
	// task per core. MM2's tasks.max is per Connect cluster, kmirror's per
	// worker; with one worker each they mean the same.
	kafkaTasks = 2
	// syncInterval is both mirrors' emit.checkpoints.interval.seconds and
	// sync.group.offsets.interval.seconds: the minimum each accepts (both
	// are whole seconds; MM2 schedules with a fixed period, which must be
	// positive). testbed.MM2Job writes the same 1 s for MM2.
	syncInterval = time.Second
	// syncPartitions and cutPartitions shape the topics of the group
	// phases.
	syncPartitions   = 4
	cutPartitionsMax = 8
)

// overlay is base with the key=value settings of over added, a key of
// both taking over's value: -set overrides a seed setting.
func overlay(base, over []string) []string {
	key := func(kv string) string { k, _, _ := strings.Cut(kv, "="); return k }
	var out []string
	for _, kv := range base {
		if !slices.ContainsFunc(over, func(o string) bool { return key(o) == key(kv) }) {
			out = append(out, kv)
		}
	}
	return append(out, over...)
}

// seedProducer are the producer settings of the seed article's
// KafkaMirrorMaker2 that both mirrors understand. Its "producer.ack: 1" is
// not a Kafka key (MM2 ignores it, kmirror warns), nor are
// "offset_flush_timeout" and "task_shutdown_graceful_timeout_ms"; they are
// left out, so acks stays all.
var seedProducer = []string{
	"producer.batch.size=50000",
	"producer.buffer.memory=225000000",
	"producer.compression.type=gzip",
	"producer.linger.ms=1500",
	"producer.max.request.size=157286400",
	"producer.request.timeout.ms=60000",
}

// kafkaJars resolves -kafka: a directory of jars, or a release line (4,
// 3.9) or version (4.1.1) that internal/testbed/apache/fetch.sh brings into
// its cache.
func kafkaJars(ctx context.Context, arg string) (string, error) {
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
		return filepath.Abs(arg)
	}
	if strings.ContainsRune(arg, os.PathSeparator) {
		return "", fmt.Errorf("-kafka %s: no such directory", arg)
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "internal/testbed/apache/fetch.sh"), arg)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("fetch.sh %s: %w", arg, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// kafkaRun is the real-Kafka mode: for each run, a source and a target
// Apache Kafka (one KRaft node each, separate processes), and on them
// MirrorMaker 2 and kmirror in turn, each on topics of its own.
func kafkaRun(ctx context.Context, o options) (*kafkaReport, error) {
	if err := o.spec.Validate(); err != nil {
		return nil, err
	}
	if o.skipRaw || o.cpuProfile != "" {
		return nil, errors.New("-skip-raw and -cpuprofile belong to the kfake mode, not to -kafka")
	}
	if o.runs < 1 {
		o.runs = 1
	}
	if o.tasks == 0 {
		o.tasks = kafkaTasks
	}
	if o.seedProducer {
		o.set = overlay(seedProducer, o.set)
	}
	jars, err := kafkaJars(ctx, o.kafka)
	if err != nil {
		return nil, err
	}
	rep := &kafkaReport{opts: o, machine: describeMachine(), loadStart: loadAverage(), version: testbed.KafkaVersion(jars)}
	dir, err := os.MkdirTemp("", "kmirror-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	o.logf("building kmirror and the client; Apache Kafka %s from %s", rep.version, jars)
	bins, err := build(ctx, dir, false)
	if err != nil {
		return nil, err
	}
	for i := range o.runs {
		// Alternate which mirror goes first, so that neither always meets
		// brokers that have just been loaded by the other.
		order := []string{mirrorMM2, mirrorKmirror}
		if i%2 == 1 {
			order = []string{mirrorKmirror, mirrorMM2}
		}
		o.logf("run %d of %d: %s first", i+1, o.runs, order[0])
		runDir := filepath.Join(dir, strconv.Itoa(i))
		if o.logs != "" {
			runDir = filepath.Join(o.logs, "run-"+strconv.Itoa(i+1))
		}
		rr, err := kafkaOnce(ctx, o, bins, jars, runDir, order)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		rep.runs = append(rep.runs, rr)
	}
	rep.loadEnd = loadAverage()
	return rep, nil
}

// kafkaBed is a run's pair of clusters.
type kafkaBed struct {
	src, tgt *testbed.Kafka
}

// stop stops both clusters, removing their files. Its receiver is a
// pointer: deferred before the clusters start, it must see them.
func (b *kafkaBed) stop() {
	if b.src != nil {
		b.src.Stop()
	}
	if b.tgt != nil {
		b.tgt.Stop()
	}
}

// brokersCPU is the CPU time both clusters' processes have used.
func (b kafkaBed) brokersCPU() time.Duration {
	var sum time.Duration
	for _, k := range []*testbed.Kafka{b.src, b.tgt} {
		for _, n := range k.Nodes() {
			if u, ok := usageOf(n.Pid()); ok {
				sum += u.CPU
			}
		}
	}
	return sum
}

func kafkaOnce(ctx context.Context, o options, bins binaries, jars, dir string, order []string) (*kafkaRunResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var bed kafkaBed
	defer bed.stop()
	var err error
	for _, side := range []**testbed.Kafka{&bed.src, &bed.tgt} {
		if *side, err = testbed.LaunchKafka(testbed.KafkaOptions{Jars: jars, Heap: brokerHeap}); err != nil {
			return nil, err
		}
	}
	o.logf("  brokers: source %s, target %s", bed.src.Addr, bed.tgt.Addr)
	rr := &kafkaRunResult{mirrors: map[string]*mirrorFigures{}}
	ms := map[string]*benchMirror{}
	for _, name := range order {
		m, err := newBenchMirror(ctx, o, bins, jars, bed, filepath.Join(dir, name), name)
		if err != nil {
			return nil, err
		}
		defer m.close()
		ms[name] = m
		if rr.mirrors[name], err = m.catchUp(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	steadyRate := o.rate
	if steadyRate == 0 {
		steadyRate = min(rate(rr.mirrors[mirrorMM2].catchUp), rate(rr.mirrors[mirrorKmirror].catchUp)) / 2
	}
	for _, name := range order {
		if err := ms[name].live(ctx, rr.mirrors[name], steadyRate); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	rr.loadEnd = loadAverage()
	return rr, nil
}
