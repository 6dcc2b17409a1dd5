// Command bench measures kmirror against the raw limit of the same brokers,
// in one run on a fresh machine:
//
//	go run ./bench                      # 1 000 000 × 1 KiB records, 32 partitions
//	go run ./bench -records 200000 -set producer.linger.ms=5 -o results.md
//
// It builds kmirror, starts a source and a target `kmirror dev-cluster` as
// separate processes, and measures, with the client settings kmirror
// derives from its configuration: fetching only, producing only, both at
// once (the raw limit), a bare franz-go fetch→produce loop, kmirror catching
// up on the loaded records, and the replication latency under a steady load
// at half of kmirror's maximum. Client work runs in separate processes
// (bench/rawclient), so each row's CPU is its own.
//
// With -brokers-kafka 4, the same table is measured on Apache Kafka brokers
// from the test bed, one node per cluster: kfake's costs are not Kafka's.
//
// With -kafka (go run ./bench -kafka 4), it compares MirrorMaker 2 and
// kmirror instead, on Apache Kafka brokers from the test bed: catch-up
// throughput, CPU and memory, latency under a steady load, group sync
// delay and cutover accuracy.
//
// With -scale (go run ./bench -scale -partitions 10000 -topics 1 -groups
// 100), it measures what kmirror costs at rest with many partitions,
// topics and groups instead: idle CPU and memory, the time status, migrate
// ready and the status API take, and the group sync delay. See
// docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kmirror/kmirror/bench/internal/workload"
)

// options of one harness invocation.
type options struct {
	spec       workload.Spec
	set        []string // extra client or flow keys, key=value
	tasks      int      // tasks.max; 0 keeps kmirror's default
	runs       int
	steady     time.Duration
	rate       float64 // steady records/s; 0 is half of kmirror's catch-up rate
	skipRaw    bool
	cpuProfile string
	out        string
	verbose    bool
	logf       func(format string, args ...any)

	// The real-Kafka mode (-kafka).
	kafka string // release line, version or jar directory; "" is the kfake mode
	// brokersKafka runs the kfake mode's table on Apache Kafka brokers of
	// this release line, version or jar directory instead of dev-clusters.
	brokersKafka string
	seedProducer bool // the seed article's producer settings for both mirrors
	// sourceCompression is the codec the source is written with (the load
	// and the steady load); "" is kmirror's producer codec, or with -kafka
	// none.
	sourceCompression string
	syncSamples       int
	// copyOnly leaves out the group sync and the cutover (-matrix).
	copyOnly bool
	matrix   bool
	lag      int    // records the lagging group of the cutover lags by
	logs     string // directory that keeps the mirrors' logs and configurations

	// The scale mode (-scale): a row for each point of the product of the
	// lists, and each run.
	scale              bool
	partitions, topics intList
	groups             intList
	idle               time.Duration // how long idle CPU is measured over
}

// intList is a flag of one number or a comma-separated list of them; the
// first Set replaces the default.
type intList struct {
	v   []int
	set bool
}

func (l *intList) String() string {
	s := make([]string, len(l.v))
	for i, n := range l.v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a number or a comma-separated list of numbers", v)
		}
		out = append(out, n)
	}
	if !l.set {
		l.v = nil
	}
	l.v, l.set = append(l.v, out...), true
	return nil
}

type setFlag []string

func (s *setFlag) String() string     { return strings.Join(*s, ",") }
func (s *setFlag) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var o options
	var compression string
	var set setFlag
	flag.IntVar(&o.spec.Records, "records", 1_000_000, "records to load and mirror")
	flag.IntVar(&o.spec.Size, "size", 1024, "value bytes per record")
	o.partitions, o.topics, o.groups = intList{v: []int{32}}, intList{v: []int{1}}, intList{v: []int{0}}
	flag.Var(&o.partitions, "partitions", "partitions of the mirrored topic; with -scale, of all its topics together, or a list (1000,10000): a row for each")
	flag.Var(&o.topics, "topics", "-scale: topics the partitions are spread over, or a list (1,1000)")
	flag.Var(&o.groups, "groups", "-scale: consumer groups, each committing on 4 partitions of the mirrored topics, or a list (100,1000,10000)")
	flag.BoolVar(&o.scale, "scale", false, "measure what kmirror costs at rest for -partitions, -topics and -groups (idle CPU, memory, status and migrate ready times, the status API's size, the group sync delay) instead of its throughput; a row for each combination of the lists")
	flag.DurationVar(&o.idle, "idle", 20*time.Second, "-scale: how long kmirror's idle CPU is measured over")
	flag.StringVar(&o.spec.Keys, "keys", workload.KeysNone, "key distribution: none (round-robin), uniform or zipf (skewed partitions)")
	flag.StringVar(&compression, "compression", "", "producer.compression.type for every producer (none, gzip, snappy, lz4, zstd); empty keeps kmirror's default")
	flag.StringVar(&o.sourceCompression, "source-compression", "", "the codec the source is written with (none, gzip, snappy, lz4, zstd), whatever the mirrors' producers use; empty is kmirror's producer codec, or with -kafka none (the harness's clients are at their defaults)")
	flag.IntVar(&o.tasks, "tasks", 0, "tasks.max; 0 keeps kmirror's default (with -kafka: 2, for both mirrors)")
	flag.Var(&set, "set", "extra key=value for the configuration: producer.* on the target, consumer.* on the source, other keys on the flow (repeatable)")
	flag.IntVar(&o.runs, "runs", 1, "repeat the whole measurement on fresh clusters; the table shows medians")
	flag.DurationVar(&o.steady, "steady", 20*time.Second, "duration of the steady-load latency phase; 0 skips it")
	flag.Float64Var(&o.rate, "rate", 0, "steady load in records/s; 0 is half of kmirror's measured catch-up rate (with -kafka: of the slower mirror's)")
	flag.BoolVar(&o.skipRaw, "skip-raw", false, "measure only the raw limit (fetch+produce together) and kmirror, not the single-sided rows and the bare loop")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the kmirror process during the catch-up (first run) to this file")
	flag.StringVar(&o.out, "o", "", "also write the results as markdown to this file")
	flag.BoolVar(&o.verbose, "v", false, "print progress")
	flag.StringVar(&o.kafka, "kafka", "", "compare MirrorMaker 2 and kmirror on Apache Kafka brokers: a release line or version for internal/testbed/apache/fetch.sh (4, 3.9, 4.1.1) or a directory of its jars; empty runs the kfake mode")
	flag.StringVar(&o.brokersKafka, "brokers-kafka", "", "measure the default mode's table (raw limits, the bare loop, kmirror) on Apache Kafka brokers of this release line, version or jar directory (as -kafka) instead of kfake dev-clusters")
	flag.BoolVar(&o.seedProducer, "seed-producer", true, "-kafka: give both mirrors the seed article's producer settings (batch.size, buffer.memory, gzip, linger.ms 1500, max.request.size, request.timeout.ms)")
	flag.BoolVar(&o.matrix, "matrix", false, "-kafka: run the matrix of docs/benchmarks.md instead of one configuration: the seed's settings and the defaults, sources in none, gzip and zstd, and 100 B and 10 KiB records (catch-up and latency only; 3 runs for two rows, 1 for the others; about 35 minutes on 2 CPUs)")
	flag.IntVar(&o.syncSamples, "sync-samples", 20, "-kafka: group sync delay samples per mirror and run; -scale: per run")
	flag.IntVar(&o.lag, "lag", 10_000, "-kafka: records the lagging group lags by at the cutover")
	flag.StringVar(&o.logs, "logs", "", "-kafka: keep the mirrors' configurations and logs under this directory")
	flag.Parse()
	if !o.scale {
		if len(o.partitions.v) != 1 {
			fmt.Fprintln(os.Stderr, "bench: -partitions takes a list with -scale only")
			os.Exit(2)
		}
		flag.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "topics", "groups", "idle":
				fmt.Fprintf(os.Stderr, "bench: -%s belongs to -scale\n", f.Name)
				os.Exit(2)
			}
		})
	}
	if o.brokersKafka != "" && (o.kafka != "" || o.scale) {
		fmt.Fprintln(os.Stderr, "bench: -brokers-kafka belongs to the default mode, not to -kafka or -scale")
		os.Exit(2)
	}
	o.spec.Partitions = o.partitions.v[0]
	if err := checkCodec(o.sourceCompression); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -source-compression:", err)
		os.Exit(2)
	}
	if compression != "" {
		set = append(set, "producer.compression.type="+compression)
	}
	o.set = set
	o.logf = func(string, ...any) {}
	if o.verbose {
		o.logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	command := "go run ./bench " + strings.Join(os.Args[1:], " ")
	if o.matrix {
		if o.kafka == "" {
			fmt.Fprintln(os.Stderr, "bench: -matrix compares with MirrorMaker 2: give -kafka")
			os.Exit(2)
		}
		flag.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "runs", "source-compression", "seed-producer", "records", "size":
				fmt.Fprintf(os.Stderr, "bench: -matrix sets -%s for each of its configurations: leave it out\n", f.Name)
				os.Exit(2)
			}
		})
	}
	var rep outcome
	var err error
	switch {
	case o.scale:
		rep, err = scaleRun(ctx, o)
	case o.matrix:
		rep, err = kafkaMatrix(ctx, o)
	case o.kafka != "":
		rep, err = kafkaRun(ctx, o)
	default:
		rep, err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	rep.setCommand(command)
	emit(rep.text(), rep.markdown(), o.out)
}

// outcome is what a mode measured, as a report.
type outcome interface {
	setCommand(string)
	text() string
	markdown() string
}

func (rep *report) setCommand(c string)       { rep.command = c }
func (rep *kafkaReport) setCommand(c string)  { rep.command = c }
func (rep *matrixReport) setCommand(c string) { rep.command = c }
func (rep *scaleReport) setCommand(c string)  { rep.command = c }

// checkCodec accepts a compression.type name, or "".
func checkCodec(name string) error {
	switch name {
	case "", "none", "gzip", "snappy", "lz4", "zstd":
		return nil
	}
	return fmt.Errorf("%q is not a codec: none, gzip, snappy, lz4 or zstd", name)
}

// sourceCodec says what the source's producers compress with.
func (o options) sourceCodec() string {
	switch {
	case o.sourceCompression != "":
	case o.kafka != "":
		return "written to the source uncompressed"
	default:
		return "written to the source with kmirror's producer codec"
	}
	return "written to the source with " + o.sourceCompression
}

// sourceArgs are rawclient's arguments for a process that produces to
// the source.
func (o options) sourceArgs() []string {
	if o.sourceCompression == "" {
		return nil
	}
	return []string{"-source-compression", o.sourceCompression}
}

// emit prints a report and writes its markdown to out, if named.
func emit(text, markdown, out string) {
	fmt.Print(text)
	if out != "" {
		if err := os.WriteFile(out, []byte(markdown), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}
