package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kmirror/kmirror/bench/internal/workload"
)

// mirrorFigures are what one run measured of one mirror.
type mirrorFigures struct {
	catchUp workload.Result
	steady  *workload.Result
	sync    syncFigures
	cut     map[string]*cutFigures
}

// kafkaRunResult is one run of the real-Kafka mode.
type kafkaRunResult struct {
	mirrors map[string]*mirrorFigures
	loadEnd string
}

// kafkaReport is the outcome of the real-Kafka mode.
type kafkaReport struct {
	opts               options
	command            string
	machine            string
	version            string // Apache Kafka's
	loadStart, loadEnd string
	runs               []*kafkaRunResult
}

// kafkaRow is a line of the table: a figure's median for each mirror.
type kafkaRow struct {
	name     string
	unit     string // format of a value
	mm2, kmr float64
	ok       bool // both measured
}

// median of a figure over the runs, for one mirror; ok is false when no
// run measured it.
func (rep *kafkaReport) median(mirror string, fig func(*mirrorFigures) (float64, bool)) (float64, bool) {
	var v []float64
	for _, rr := range rep.runs {
		if f := rr.mirrors[mirror]; f != nil {
			if x, ok := fig(f); ok {
				v = append(v, x)
			}
		}
	}
	return median(v), len(v) > 0
}

// quantile of a sample, 0 for none.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (rep *kafkaReport) rows() []kafkaRow {
	type def struct {
		name, unit string
		fig        func(*mirrorFigures) (float64, bool)
	}
	catch := func(f func(workload.Result) float64) func(*mirrorFigures) (float64, bool) {
		return func(m *mirrorFigures) (float64, bool) { return f(m.catchUp), m.catchUp.Seconds > 0 }
	}
	steady := func(f func(*workload.Result) float64) func(*mirrorFigures) (float64, bool) {
		return func(m *mirrorFigures) (float64, bool) {
			if m.steady == nil {
				return 0, false
			}
			return f(m.steady), true
		}
	}
	sync := func(q float64) func(*mirrorFigures) (float64, bool) {
		return func(m *mirrorFigures) (float64, bool) {
			return ms(quantile(m.sync.delays, q)), len(m.sync.delays) > 0
		}
	}
	syncCount := func(f func(syncFigures) int) func(*mirrorFigures) (float64, bool) {
		return func(m *mirrorFigures) (float64, bool) { return float64(f(m.sync)), m.sync.samples > 0 }
	}
	cut := func(g string, f func(*cutFigures) float64) func(*mirrorFigures) (float64, bool) {
		return func(m *mirrorFigures) (float64, bool) {
			c := m.cut[g]
			if c == nil {
				return 0, false
			}
			return f(c), true
		}
	}
	perM := func(r workload.Result) float64 { return float64(r.Records) / 1e6 }
	lag := fmt.Sprintf("lagging by %d", rep.opts.lag)
	defs := []def{
		{"catch-up: records/s", "%.0f", catch(rate)},
		{"catch-up: MB/s", "%.1f", catch(func(r workload.Result) float64 { return float64(r.Bytes) / 1e6 / r.Seconds })},
		{"catch-up: CPU-s per M records (mirror process)", "%.2f", catch(func(r workload.Result) float64 { return r.CPUSeconds / perM(r) })},
		{"catch-up: peak RSS MiB (VmHWM)", "%.0f", catch(func(r workload.Result) float64 { return float64(r.MaxRSS) / (1 << 20) })},
		{"catch-up: brokers CPU-s per M records", "%.2f", catch(func(r workload.Result) float64 { return r.BrokerCPUSeconds / perM(r) })},
		{"steady load: achieved records/s", "%.0f", steady(func(r *workload.Result) float64 { return r.Rate })},
		{"replication latency p50 ms", "%.1f", steady(func(r *workload.Result) float64 { return ms(r.P50) })},
		{"replication latency p99 ms", "%.1f", steady(func(r *workload.Result) float64 { return ms(r.P99) })},
		{"group sync delay p50 ms", "%.0f", sync(0.50)},
		{"group sync delay p99 ms", "%.0f", sync(0.99)},
		{"group sync: samples settled on other offsets", "%.0f", syncCount(func(s syncFigures) int { return s.inexact })},
		{"group sync: samples never synced (30 s)", "%.0f", syncCount(func(s syncFigures) int { return s.never })},
		{"cutover, caught-up group: records seen twice", "%.0f", cut(groupCaught, func(c *cutFigures) float64 { return float64(sum(c.twice)) })},
		{"cutover, caught-up group: records never seen", "%.0f", cut(groupCaught, func(c *cutFigures) float64 { return float64(sum(c.never)) })},
		{"cutover, group " + lag + ": records seen twice", "%.0f", cut(groupLagging, func(c *cutFigures) float64 { return float64(sum(c.twice)) })},
		{"cutover, group " + lag + ": records never seen", "%.0f", cut(groupLagging, func(c *cutFigures) float64 { return float64(sum(c.never)) })},
		{"cutover: commit → target offsets settled, s", "%.1f", cut(groupCaught, func(c *cutFigures) float64 { return c.wait.Seconds() })},
		{"cutover: partitions never synced (both groups, 1 min)", "%.0f", func(m *mirrorFigures) (float64, bool) {
			if len(m.cut) == 0 {
				return 0, false
			}
			n := 0
			for _, c := range m.cut {
				n += c.unsynced
			}
			return float64(n), true
		}},
	}
	var out []kafkaRow
	for _, d := range defs {
		a, okA := rep.median(mirrorMM2, d.fig)
		b, okB := rep.median(mirrorKmirror, d.fig)
		out = append(out, kafkaRow{name: d.name, unit: d.unit, mm2: a, kmr: b, ok: okA && okB})
	}
	return out
}

func (r kafkaRow) cells() (mm2, kmr, ratio string) {
	if !r.ok {
		return "–", "–", "–"
	}
	ratio = "–"
	if r.mm2 != 0 {
		ratio = fmt.Sprintf("%.2f", r.kmr/r.mm2)
	}
	return fmt.Sprintf(r.unit, r.mm2), fmt.Sprintf(r.unit, r.kmr), ratio
}

func (rep *kafkaReport) header() []string {
	o, s := rep.opts, rep.opts.spec
	return []string{
		"command:   " + rep.command,
		"machine:   " + rep.machine,
		fmt.Sprintf("load avg:  %s at start, %s at end (1, 5, 15 min)", rep.loadStart, rep.loadEnd),
		fmt.Sprintf("brokers:   Apache Kafka %s, one KRaft node per cluster (source, target), each a process with -Xmx%s; %s", rep.version, brokerHeap, runtime.Version()),
		fmt.Sprintf("mirrors:   MirrorMaker 2 %s dedicated mode (-Xmx%s, serial GC) and kmirror run, one after the other on the same brokers, on topics of their own; order alternates per run", rep.version, mm2Heap),
		fmt.Sprintf("settings:  both: identity policy, offset syncs on the target, tasks.max=%d, group offsets checkpointed and synced every %s (the minimum of each); %s",
			o.tasks, syncInterval, strings.Join(o.set, ", ")),
		fmt.Sprintf("workload:  catch-up on %d records × %d B values, %d partitions, keys %s, %s (timed from the mirror's starts-copying log line until the target holds all); steady %s; %d group sync samples; cutover on %d partitions while %d records/s are written",
			s.Records, s.Size, s.Partitions, s.Keys, o.sourceCodec(), o.steady, o.syncSamples, min(s.Partitions, cutPartitionsMax), cutRate),
		fmt.Sprintf("runs:      %d (figures are medians)", len(rep.runs)),
	}
}

func (rep *kafkaReport) steadyLine() string {
	t, ok := rep.median(mirrorKmirror, func(m *mirrorFigures) (float64, bool) {
		if m.steady == nil {
			return 0, false
		}
		return m.steady.Target, true
	})
	if !ok {
		return ""
	}
	how := "-rate"
	if rep.opts.rate == 0 {
		how = "half of the slower mirror's catch-up rate"
	}
	return fmt.Sprintf("steady load for the latency: %.0f records/s (%s); latency is a record's timestamp (set when handed to the source producer) → seen by a consumer of the target", t, how)
}

func (rep *kafkaReport) text() string {
	var after []string
	if l := rep.steadyLine(); l != "" {
		after = []string{"", l}
	}
	return textReport(rep.header(), "measurement\tMirrorMaker 2\tkmirror\tkmirror ÷ MM2", func(w io.Writer) {
		for _, r := range rep.rows() {
			a, k, x := r.cells()
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", r.name, a, k, x)
		}
	}, after)
}

func (rep *kafkaReport) markdown() string {
	var b strings.Builder
	writeHeader(&b, rep.header())
	fmt.Fprintln(&b, "| measurement | MirrorMaker 2 | kmirror | kmirror ÷ MM2 |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|")
	for _, r := range rep.rows() {
		a, k, x := r.cells()
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.name, a, k, x)
	}
	if l := rep.steadyLine(); l != "" {
		fmt.Fprintln(&b, "\n- "+l)
	}
	fmt.Fprintln(&b, "\nCutover per partition (each run; seen twice / never seen):")
	fmt.Fprintln(&b)
	for i, rr := range rep.runs {
		for _, name := range []string{mirrorMM2, mirrorKmirror} {
			f := rr.mirrors[name]
			if f == nil {
				continue
			}
			for _, g := range []string{groupCaught, groupLagging} {
				if c := f.cut[g]; c != nil {
					fmt.Fprintf(&b, "- run %d, %s, %s group: twice %v, never %v\n", i+1, name, g, c.twice, c.never)
				}
			}
		}
	}
	return b.String()
}
