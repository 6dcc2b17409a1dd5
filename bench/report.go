package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmirror/kmirror/bench/internal/workload"
)

// report is the outcome of a harness invocation: every run, and the
// machine it ran on.
type report struct {
	opts               options
	command            string
	machine            string
	loadStart, loadEnd string
	runs               []*runResult
	brokers            string // what the brokers are
}

// row is one line of the table: the medians over the runs.
type row struct {
	name                 string
	recordsPerSec, mbps  float64
	cpuPerGB, cpuPerMRec float64
	rssMiB               float64
	brokerCPUPerMRec     float64
	vsRaw, vsBare        float64 // medians of the per-run ratios; 0 when not measured
	n                    int     // runs measured
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rate(r workload.Result) float64 { return float64(r.Records) / r.Seconds }

func (rep *report) rows() []row {
	var out []row
	for _, name := range rowOrder {
		var rps, mbps, cpg, cpm, rss, bcpu, vsRaw, vsBare []float64
		for _, rr := range rep.runs {
			r, ok := rr.rows[name]
			if !ok || r.Seconds == 0 {
				continue
			}
			rps = append(rps, rate(r))
			mbps = append(mbps, float64(r.Bytes)/1e6/r.Seconds)
			if r.Bytes > 0 {
				cpg = append(cpg, r.CPUSeconds/(float64(r.Bytes)/1e9))
			}
			cpm = append(cpm, r.CPUSeconds/(float64(r.Records)/1e6))
			rss = append(rss, float64(r.MaxRSS)/(1<<20))
			bcpu = append(bcpu, r.BrokerCPUSeconds/(float64(r.Records)/1e6))
			if raw, ok := rr.rows[rowRaw]; ok {
				vsRaw = append(vsRaw, rate(r)/rate(raw))
			}
			if bare, ok := rr.rows[rowBare]; ok {
				vsBare = append(vsBare, rate(r)/rate(bare))
			}
		}
		if len(rps) == 0 {
			continue
		}
		out = append(out, row{name: name, recordsPerSec: median(rps), mbps: median(mbps), cpuPerGB: median(cpg),
			cpuPerMRec: median(cpm), rssMiB: median(rss), brokerCPUPerMRec: median(bcpu), vsRaw: median(vsRaw), vsBare: median(vsBare), n: len(rps)})
	}
	return out
}

// steady returns the median steady-load figures, ok false when not run.
func (rep *report) steady() (target, rate, p50, p99, maxLat float64, ok bool) {
	var t, r, a, b, c []float64
	for _, rr := range rep.runs {
		if s := rr.steady; s != nil {
			t = append(t, s.Target)
			r = append(r, s.Rate)
			a = append(a, ms(s.P50))
			b = append(b, ms(s.P99))
			c = append(c, ms(s.Max))
		}
	}
	return median(t), median(r), median(a), median(b), median(c), len(r) > 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ratios returns kmirror's catch-up against the raw limit and the bare
// loop (throughput), and its CPU per record against the bare loop's.
func (rep *report) ratios() (vsRaw, vsBare, cpuVsBare float64) {
	var a, b, c []float64
	for _, rr := range rep.runs {
		m, ok := rr.rows[rowMirror]
		if !ok {
			continue
		}
		if raw, ok := rr.rows[rowRaw]; ok {
			a = append(a, rate(m)/rate(raw))
		}
		if bare, ok := rr.rows[rowBare]; ok {
			b = append(b, rate(m)/rate(bare))
			c = append(c, (m.CPUSeconds/float64(m.Records))/(bare.CPUSeconds/float64(bare.Records)))
		}
	}
	return median(a), median(b), median(c)
}

func (rep *report) header() []string {
	s := rep.opts.spec
	lines := []string{
		"command:   " + rep.command,
		"machine:   " + rep.machine,
		fmt.Sprintf("load avg:  %s at start, %s at end (1, 5, 15 min)", rep.loadStart, rep.loadEnd),
		fmt.Sprintf("workload:  %d records × %d B values, %d partitions, keys %s, %s; %s", s.Records, s.Size, s.Partitions, s.Keys, rep.opts.sourceCodec(), rep.settings()),
		fmt.Sprintf("runs:      %d (figures are medians); brokers: %s", len(rep.runs), rep.brokers),
	}
	return lines
}

func (rep *report) settings() string {
	var kv []string
	if rep.opts.tasks > 0 {
		kv = append(kv, fmt.Sprintf("tasks.max=%d", rep.opts.tasks))
	}
	kv = append(kv, rep.opts.set...)
	if len(kv) == 0 {
		return "kmirror's default settings"
	}
	return "settings " + strings.Join(kv, ", ")
}

func (rep *report) text() string {
	return textReport(rep.header(), "measurement\trecords/s\tMB/s\tCPU-s/GB\tCPU-s/M rec\tpeak RSS MiB\tbrokers CPU-s/M rec\t÷ raw limit", func(w io.Writer) {
		for _, r := range rep.rows() {
			fmt.Fprintf(w, "%s\t%.0f\t%.1f\t%.2f\t%.2f\t%s\t%.2f\t%s\t\n", r.name, r.recordsPerSec, r.mbps, r.cpuPerGB, r.cpuPerMRec, rssCell(r), r.brokerCPUPerMRec, ratioCell(r.vsRaw))
		}
	}, append([]string{""}, rep.summary()...))
}

// textReport lays a report out as text: its header lines, a blank line,
// the table — the tab-separated columns, then the rows rows writes —
// aligned right, and the lines after it.
func textReport(header []string, columns string, rows func(w io.Writer), after []string) string {
	var b strings.Builder
	for _, l := range header {
		fmt.Fprintln(&b, l)
	}
	fmt.Fprintln(&b)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, columns+"\t")
	rows(w)
	w.Flush()
	for _, l := range after {
		fmt.Fprintln(&b, l)
	}
	return b.String()
}

func (rep *report) summary() []string {
	var out []string
	vsRaw, vsBare, cpuVsBare := rep.ratios()
	if vsRaw > 0 {
		out = append(out, fmt.Sprintf("kmirror ÷ raw limit (throughput):   %.2f", vsRaw))
	}
	if vsBare > 0 {
		out = append(out, fmt.Sprintf("kmirror ÷ bare loop (throughput):   %.2f", vsBare))
		out = append(out, fmt.Sprintf("kmirror ÷ bare loop (CPU / record): %.2f", cpuVsBare))
	}
	if t, r, p50, p99, mx, ok := rep.steady(); ok {
		how := "-rate"
		if rep.opts.rate == 0 {
			how = "half of 1/(1/raw limit + 1/kmirror), what the machine sustains with the load's own clients"
		}
		out = append(out, fmt.Sprintf("replication latency (record timestamp → seen by a consumer of the target) under a steady load of %.0f records/s (%s; achieved %.0f): p50 %.1f ms, p99 %.1f ms, max %.1f ms",
			t, how, r, p50, p99, mx))
	}
	return out
}

// rssCell leaves the peak RSS of rows whose process pre-generates its
// records out: it measures the generator, not the client.
func rssCell(r row) string {
	if r.name == rowProduce || r.name == rowRaw {
		return "–"
	}
	return fmt.Sprintf("%.0f", r.rssMiB)
}

func ratioCell(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// writeHeader writes a report's header lines as a code block, then a
// blank line.
func writeHeader(b *strings.Builder, lines []string) {
	fmt.Fprintln(b, "```")
	for _, l := range lines {
		fmt.Fprintln(b, l)
	}
	fmt.Fprintln(b, "```")
	fmt.Fprintln(b)
}

func (rep *report) markdown() string {
	var b strings.Builder
	writeHeader(&b, rep.header())
	fmt.Fprintln(&b, "| measurement | records/s | MB/s | CPU-s/GB | CPU-s/M records | peak RSS MiB | brokers CPU-s/M records | ÷ raw limit |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rep.rows() {
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %.2f | %.2f | %s | %.2f | %s |\n", r.name, r.recordsPerSec, r.mbps, r.cpuPerGB, r.cpuPerMRec, rssCell(r), r.brokerCPUPerMRec, ratioCell(r.vsRaw))
	}
	fmt.Fprintln(&b)
	for _, l := range rep.summary() {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	return b.String()
}

// describeMachine names the CPU, core count and memory.
func describeMachine() string {
	model := firstField("/proc/cpuinfo", "model name")
	mem := firstField("/proc/meminfo", "MemTotal")
	s := fmt.Sprintf("%d CPUs (GOMAXPROCS %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if model != "" {
		s += ", " + model
	}
	if mem != "" {
		var kb int64
		fmt.Sscan(strings.TrimSuffix(mem, " kB"), &kb)
		s += fmt.Sprintf(", %.1f GiB memory", float64(kb)/(1<<20))
	}
	return s + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
