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
// (bench/rawclient), so each row's CPU is its own. See docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
	flag.IntVar(&o.spec.Partitions, "partitions", 32, "partitions of the mirrored topic")
	flag.StringVar(&o.spec.Keys, "keys", workload.KeysNone, "key distribution: none (round-robin), uniform or zipf (skewed partitions)")
	flag.StringVar(&compression, "compression", "", "producer.compression.type for every producer (none, gzip, snappy, lz4, zstd); empty keeps kmirror's default")
	flag.IntVar(&o.tasks, "tasks", 0, "tasks.max; 0 keeps kmirror's default")
	flag.Var(&set, "set", "extra key=value for the configuration: producer.* on the target, consumer.* on the source, other keys on the flow (repeatable)")
	flag.IntVar(&o.runs, "runs", 1, "repeat the whole measurement on fresh clusters; the table shows medians")
	flag.DurationVar(&o.steady, "steady", 20*time.Second, "duration of the steady-load latency phase; 0 skips it")
	flag.Float64Var(&o.rate, "rate", 0, "steady load in records/s; 0 is half of kmirror's measured catch-up rate")
	flag.BoolVar(&o.skipRaw, "skip-raw", false, "measure only the raw limit (fetch+produce together) and kmirror, not the single-sided rows and the bare loop")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the kmirror process during the catch-up (first run) to this file")
	flag.StringVar(&o.out, "o", "", "also write the results as markdown to this file")
	flag.BoolVar(&o.verbose, "v", false, "print progress")
	flag.Parse()
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
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	rep.command = "go run ./bench " + strings.Join(os.Args[1:], " ")
	fmt.Print(rep.text())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}
