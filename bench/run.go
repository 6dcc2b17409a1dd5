package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/bench/internal/workload"
	"github.com/kmirror/kmirror/internal/testbed"
)

// Topics of a run. The mirrored topic keeps its name (identity policy).
const (
	topicMirrored = "bench"
	topicProduce  = "raw-produce"
	topicBoth     = "raw-both"
	topicBare     = "bare-loop"
)

// Row names, in table order.
const (
	rowProduce = "produce only (into target)"
	rowFetch   = "fetch only (from source)"
	rowRaw     = "raw limit: fetch + produce at once"
	rowBare    = "bare franz-go fetch→produce loop"
	rowMirror  = "kmirror run, catching up"
)

var rowOrder = []string{rowProduce, rowFetch, rowRaw, rowBare, rowMirror}

// runResult is what one run measured.
type runResult struct {
	rows    map[string]workload.Result
	steady  *workload.Result
	loadEnd string // load average after the run
}

// binaries are what a run executes.
type binaries struct {
	kmirror, client, prof string
	// jars are Apache Kafka's, for -brokers-kafka; "" runs dev-clusters.
	jars string
}

func run(ctx context.Context, o options) (*report, error) {
	if err := o.spec.Validate(); err != nil {
		return nil, err
	}
	if o.runs < 1 {
		o.runs = 1
	}
	rep := &report{opts: o, machine: describeMachine(), loadStart: loadAverage(),
		brokers: "kmirror dev-cluster (kfake), source and target, one process each"}
	dir, err := os.MkdirTemp("", "kmirror-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	o.logf("building kmirror and the client")
	bins, err := build(ctx, dir, o.cpuProfile != "")
	if err != nil {
		return nil, err
	}
	if o.brokersKafka != "" {
		if bins.jars, err = kafkaJars(ctx, o.brokersKafka); err != nil {
			return nil, err
		}
		rep.brokers = fmt.Sprintf("Apache Kafka %s, source and target, one node each (heap %s)", testbed.KafkaVersion(bins.jars), brokerHeap)
	}
	for i := range o.runs {
		o.logf("run %d of %d", i+1, o.runs)
		rr, err := runOnce(ctx, o, bins, filepath.Join(dir, strconv.Itoa(i)), i == 0)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		rep.runs = append(rep.runs, rr)
	}
	rep.loadEnd = loadAverage()
	return rep, nil
}

// build compiles kmirror, the client and (for profiling) kmirrorprof.
func build(ctx context.Context, dir string, prof bool) (binaries, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return binaries{}, err
	}
	b := binaries{kmirror: filepath.Join(dir, "kmirror"), client: filepath.Join(dir, "rawclient")}
	targets := map[string]string{b.kmirror: "./cmd/kmirror", b.client: "./bench/rawclient"}
	if prof {
		b.prof = filepath.Join(dir, "kmirrorprof")
		targets[b.prof] = "./bench/kmirrorprof"
	}
	for out, pkg := range targets {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return binaries{}, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the harness inside the kmirror module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

// devCluster starts a dev-cluster process and returns its bootstrap.
func devCluster(ctx context.Context, bin, name string, topics ...string) (*proc, string, error) {
	args := []string{"dev-cluster", "--listen", "127.0.0.1:0", "--cluster-id", name}
	for _, t := range topics {
		args = append(args, "--topic", t)
	}
	p, err := startProc(name+" dev-cluster", nil, bin, args...)
	if err != nil {
		return nil, "", err
	}
	line, err := p.waitFor(ctx, "dev-cluster ready:", 30*time.Second)
	if err != nil {
		_ = p.stop(5 * time.Second)
		return nil, "", err
	}
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "brokers="); ok {
			return p, v, nil
		}
	}
	_ = p.stop(5 * time.Second)
	return nil, "", fmt.Errorf("no brokers in %q", line)
}

// splitSet sorts the -set keys into the configuration lines of the source
// cluster (consumer.*), the target cluster (producer.*) and the flow, each
// indented for a connector's config.
func splitSet(set []string) (srcKeys, tgtKeys, flowKeys []string, err error) {
	for _, kv := range set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, nil, nil, fmt.Errorf("-set %q: want key=value", kv)
		}
		k = strings.TrimSpace(k)
		line := fmt.Sprintf("        %s: %q\n", k, strings.TrimSpace(v))
		switch {
		case strings.HasPrefix(k, "producer."):
			tgtKeys = append(tgtKeys, line)
		case strings.HasPrefix(k, "consumer."):
			srcKeys = append(srcKeys, line)
		default:
			flowKeys = append(flowKeys, line)
		}
	}
	return srcKeys, tgtKeys, flowKeys, nil
}

// section is a cluster's config block holding keys, "" when there are none.
func section(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return "    config:\n" + strings.ReplaceAll(strings.Join(keys, ""), "        ", "      ")
}

// writeConfig writes the kmirror configuration of a run: one flow copying
// the topics of topicsPattern under their own names, with the extra keys
// and then more, lines of the flow (indented for its keys).
func writeConfig(path, source, target, topicsPattern string, o options, more string) error {
	srcKeys, tgtKeys, flowKeys, err := splitSet(o.set)
	if err != nil {
		return err
	}
	if o.tasks > 0 {
		flowKeys = append(flowKeys, fmt.Sprintf("        tasks.max: %d\n", o.tasks))
	}
	cfg := fmt.Sprintf(`connectCluster: target
clusters:
  - alias: source
    bootstrapServers: %s
%s  - alias: target
    bootstrapServers: %s
%smirrors:
  - sourceCluster: source
    targetCluster: target
    topicsPattern: %q
    sourceConnector:
      config:
        replication.policy.class: identity
%s%s`, source, section(srcKeys), target, section(tgtKeys), topicsPattern, strings.Join(flowKeys, ""), more)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// client runs the client process in a mode and returns what it measured.
func client(ctx context.Context, bin string, args ...string) (workload.Result, error) {
	p, err := startProc("rawclient "+args[1], nil, bin, args...)
	if err != nil {
		return workload.Result{}, err
	}
	if err := p.wait(ctx, clientWithin); err != nil {
		return workload.Result{}, err
	}
	var r workload.Result
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.out) == 0 {
		return r, fmt.Errorf("%s printed no result", p.name)
	}
	if err := json.Unmarshal([]byte(p.out[len(p.out)-1]), &r); err != nil {
		return r, fmt.Errorf("%s: %w", p.name, err)
	}
	return r, nil
}

// bed is a fresh pair of clusters (dev-clusters, or Apache Kafka with
// -brokers-kafka), the source loaded with the run's records. The bare loop
// and kmirror each get a bed of their own, the raw rows share one: kfake
// brokers keep what they were given in memory, and a broker that served or
// took earlier measurements works harder for the next (at 1 000
// partitions and 2 million records, half as much CPU again).
type bed struct {
	srcAddr, tgtAddr string
	cfg              string // the kmirror configuration between them
	// brokersCPU is the CPU time both clusters' processes have used.
	brokersCPU func() time.Duration
	stops      []func()
	load       workload.Result
	// mode runs the client process in a mode against the bed's clusters.
	mode func(m string, extra ...string) (workload.Result, error)
}

// newBed starts a source cluster holding the mirrored topic and a target
// cluster holding tgtTopics, writes their configuration under dir, and
// loads the source.
func newBed(ctx context.Context, o options, bins binaries, dir string, tgtTopics ...string) (b *bed, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	P := strconv.Itoa(o.spec.Partitions)
	b = &bed{}
	defer func() {
		if err != nil {
			b.stop()
		}
	}()
	if bins.jars != "" {
		err = b.startKafka(ctx, bins.jars, o.spec.Partitions, tgtTopics)
	} else {
		err = b.startDevClusters(ctx, bins.kmirror, P, tgtTopics)
	}
	if err != nil {
		return b, err
	}
	b.cfg = filepath.Join(dir, "kmirror.yaml")
	if err := writeConfig(b.cfg, b.srcAddr, b.tgtAddr, topicMirrored, o, ""); err != nil {
		return b, err
	}
	common := []string{"-c", b.cfg, "-records", strconv.Itoa(o.spec.Records), "-size", strconv.Itoa(o.spec.Size),
		"-partitions", P, "-keys", o.spec.Keys}
	b.mode = func(m string, extra ...string) (workload.Result, error) {
		o.logf("  %s %s", m, strings.Join(extra, " "))
		b0 := b.brokersCPU()
		r, err := client(ctx, bins.client, append(append([]string{"-mode", m}, common...), extra...)...)
		r.BrokerCPUSeconds = (b.brokersCPU() - b0).Seconds()
		if err == nil {
			o.logf("    %.0f records/s, %.1f s, %.2f CPU-s, brokers %.2f CPU-s", float64(r.Records)/r.Seconds, r.Seconds, r.CPUSeconds, r.BrokerCPUSeconds)
		}
		return r, err
	}
	// The same seed loads the same records into every bed.
	if b.load, err = b.mode("produce", append([]string{"-to", topicMirrored, "-produce-to-source", "-seed", "1"}, o.sourceArgs()...)...); err != nil {
		return b, fmt.Errorf("load the source: %w", err)
	}
	return b, nil
}

// startDevClusters starts the bed's clusters as kmirror dev-clusters,
// the target holding tgtTopics, each of P partitions.
func (b *bed) startDevClusters(ctx context.Context, kmirror, P string, tgtTopics []string) error {
	src, srcAddr, err := devCluster(ctx, kmirror, "source", topicMirrored+":"+P)
	if err != nil {
		return err
	}
	b.stops = append(b.stops, func() { _ = src.stop(10 * time.Second) })
	topics := make([]string, len(tgtTopics))
	for i, t := range tgtTopics {
		topics[i] = t + ":" + P
	}
	tgt, tgtAddr, err := devCluster(ctx, kmirror, "target", topics...)
	if err != nil {
		return err
	}
	b.stops = append(b.stops, func() { _ = tgt.stop(10 * time.Second) })
	b.srcAddr, b.tgtAddr = srcAddr, tgtAddr
	b.brokersCPU = func() time.Duration {
		s, _ := src.usage()
		t, _ := tgt.usage()
		return s.CPU + t.CPU
	}
	return nil
}

// startKafka starts the bed's clusters as Apache Kafka nodes of the jars,
// and creates the topics of partitions partitions.
func (b *bed) startKafka(ctx context.Context, jars string, partitions int, tgtTopics []string) error {
	var kb kafkaBed
	b.stops = append(b.stops, kb.stop)
	for _, side := range []**testbed.Kafka{&kb.src, &kb.tgt} {
		k, err := testbed.LaunchKafka(testbed.KafkaOptions{Jars: jars, Heap: brokerHeap})
		if err != nil {
			return err
		}
		*side = k
	}
	for _, c := range []struct {
		addr   string
		topics []string
	}{{kb.src.Addr, []string{topicMirrored}}, {kb.tgt.Addr, tgtTopics}} {
		if err := createTopics(ctx, c.addr, int32(partitions), c.topics); err != nil {
			return err
		}
	}
	b.srcAddr, b.tgtAddr = kb.src.Addr, kb.tgt.Addr
	b.brokersCPU = kb.brokersCPU
	return nil
}

// createTopics creates topics of partitions partitions on the cluster at
// addr.
func createTopics(ctx context.Context, addr string, partitions int32, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topics...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("create %s on %s: %w", strings.Join(topics, ", "), addr, err)
	}
	return nil
}

func (b *bed) stop() {
	for _, stop := range slices.Backward(b.stops) {
		stop()
	}
	b.stops = nil
}

func runOnce(ctx context.Context, o options, bins binaries, dir string, first bool) (rr *runResult, err error) {
	rr = &runResult{rows: map[string]workload.Result{}}
	// The raw limits share a bed: each topic they write is deleted at
	// once, and none of them is compared with kmirror's figures but the
	// raw limit, which kmirror's table row divides by as a reference.
	raw, err := newBed(ctx, o, bins, filepath.Join(dir, "raw"), topicProduce, topicBoth)
	if err != nil {
		return nil, err
	}
	defer raw.stop()
	tadm, err := kgo.NewClient(kgo.SeedBrokers(raw.tgtAddr))
	if err != nil {
		return nil, err
	}
	defer tadm.Close()
	// A topic measured is deleted at once: the brokers keep records in
	// memory.
	drop := func(topic string) {
		if _, err := kadm.NewClient(tadm).DeleteTopics(ctx, topic); err != nil {
			o.logf("  delete %s: %v", topic, err)
		}
	}
	if !o.skipRaw {
		if rr.rows[rowProduce], err = raw.mode("produce", "-to", topicProduce, "-seed", "2"); err != nil {
			return nil, err
		}
		drop(topicProduce)
		if rr.rows[rowFetch], err = raw.mode("fetch", "-from", topicMirrored); err != nil {
			return nil, err
		}
	}
	if rr.rows[rowRaw], err = raw.mode("both", "-from", topicMirrored, "-to", topicBoth, "-seed", "3"); err != nil {
		return nil, err
	}
	raw.stop()

	if !o.skipRaw {
		loop, err := newBed(ctx, o, bins, filepath.Join(dir, "loop"), topicBare)
		if err != nil {
			return nil, err
		}
		rr.rows[rowBare], err = loop.mode("loop", "-from", topicMirrored, "-to", topicBare)
		loop.stop()
		if err != nil {
			return nil, err
		}
	}

	mb, err := newBed(ctx, o, bins, filepath.Join(dir, "kmirror"))
	if err != nil {
		return nil, err
	}
	defer mb.stop()
	sadm, err := kgo.NewClient(kgo.SeedBrokers(mb.srcAddr))
	if err != nil {
		return nil, err
	}
	defer sadm.Close()
	madm, err := kgo.NewClient(kgo.SeedBrokers(mb.tgtAddr))
	if err != nil {
		return nil, err
	}
	defer madm.Close()
	check, err := newCopyCheck(ctx, topicMirrored, sadm.Opts(), madm.Opts(), kadm.NewClient(sadm), kadm.NewClient(madm))
	if err != nil {
		return nil, err
	}
	m, err := mirror(ctx, o, bins, mb.cfg, check, mb.brokersCPU, mb.load.Bytes, maxRate(rr), first)
	if err != nil {
		return nil, err
	}
	rr.rows[rowMirror] = m.catchUp
	rr.steady = m.steady
	rr.loadEnd = loadAverage()
	return rr, nil
}

// maxRate is the raw limit measured in a run, 0 if none.
func maxRate(rr *runResult) float64 {
	if r, ok := rr.rows[rowRaw]; ok && r.Seconds > 0 {
		return float64(r.Records) / r.Seconds
	}
	return 0
}

// Bounds of the waits of a run: what a client process does (loading,
// measuring, the steady load) and kmirror's catch-up take seconds to
// minutes at the sizes the harness is run with.
const (
	clientWithin  = 30 * time.Minute
	catchUpWithin = 30 * time.Minute
)

type mirrorResult struct {
	catchUp workload.Result
	steady  *workload.Result
}

// mirror runs kmirror on the loaded topic: the catch-up, timed from its
// "copying" line until the target holds every record, then the steady
// load.
func mirror(ctx context.Context, o options, bins binaries, cfg string, check *copyCheck, brokersCPU func() time.Duration, bytes int64, rawRate float64, first bool) (res mirrorResult, err error) {
	bin, env := bins.kmirror, []string(nil)
	profiling := first && o.cpuProfile != ""
	if profiling {
		abs, err := filepath.Abs(o.cpuProfile)
		if err != nil {
			return res, err
		}
		bin, env = bins.prof, []string{"KMIRROR_CPUPROFILE=" + abs}
	}
	o.logf("  kmirror run")
	km, err := startProc("kmirror run", env, bin, "run", "-c", cfg, "--http", "")
	if err != nil {
		return res, err
	}
	defer func() {
		if serr := km.stop(60 * time.Second); serr != nil && err == nil {
			err = fmt.Errorf("kmirror run did not stop cleanly: %w\n%s", serr, km.tail())
		}
	}()
	if _, err := km.waitFor(ctx, "msg=copying", time.Minute); err != nil {
		return res, err
	}
	t0, b0 := time.Now(), brokersCPU()
	u0, live := km.usage()
	want := int64(o.spec.Records)
	caughtUp := wait{what: "whole catch-up", within: catchUpWithin, progress: check.progress, quit: km.exitErr}
	if err := caughtUp.until(ctx, check.done); err != nil {
		return res, err
	}
	el := time.Since(t0)
	u1, _ := km.usage()
	bcpu := (brokersCPU() - b0).Seconds()
	if profiling {
		_ = km.cmd.Process.Signal(syscall.SIGUSR1)
	}
	res.catchUp = workload.Result{Records: want, Bytes: bytes, Seconds: el.Seconds(), CPUSeconds: (u1.CPU - u0.CPU).Seconds(), MaxRSS: u1.MaxRSS, BrokerCPUSeconds: bcpu}
	o.logf("    %.0f records/s, %.1f s, %.2f CPU-s, brokers %.2f CPU-s", float64(want)/el.Seconds(), el.Seconds(), res.catchUp.CPUSeconds, bcpu)

	if o.steady > 0 {
		rate := o.rate
		if rate == 0 {
			// Half of the maximum. A steady load also needs a producer
			// into the source and a consumer of the target, the raw
			// limit's work, on the same machine as kmirror: the most it
			// sustains is 1/(1/raw + 1/kmirror), and half of kmirror's
			// own maximum alone would already saturate it.
			rate = float64(want) / el.Seconds()
			if rawRate > 0 {
				rate = 1 / (1/rawRate + 1/rate)
			}
			rate /= 2
		}
		o.logf("  steady load at %.0f records/s for %s", rate, o.steady)
		args := []string{"-mode", "steady", "-c", cfg, "-from", topicMirrored, "-to", topicMirrored,
			"-size", strconv.Itoa(o.spec.Size), "-partitions", strconv.Itoa(o.spec.Partitions), "-keys", o.spec.Keys,
			"-rate", strconv.FormatFloat(rate, 'f', 0, 64), "-duration", o.steady.String(), "-seed", "4"}
		r, err := client(ctx, bins.client, append(args, o.sourceArgs()...)...)
		if err != nil {
			return res, fmt.Errorf("steady load: %w", err)
		}
		r.Target = rate
		res.steady = &r
		o.logf("    achieved %.0f records/s; latency p50 %s, p99 %s, max %s", r.Rate, r.P50, r.P99, r.Max)
	}
	if !live {
		// No /proc: the CPU of the whole process, from its rusage at exit.
		if serr := km.stop(60 * time.Second); serr != nil {
			return res, serr
		}
		if ru, ok := km.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u := workload.FromRusage(ru)
			res.catchUp.CPUSeconds, res.catchUp.MaxRSS = u.CPU.Seconds(), u.MaxRSS
		}
	}
	return res, nil
}
