package main

import (
	"fmt"
	"io"
	"strings"
)

// scaleReport is the outcome of the scale mode: a row for each point and
// run.
type scaleReport struct {
	opts               options
	command            string
	machine            string
	loadStart, loadEnd string
	rows               []scaleRow
}

func (rep *scaleReport) header() []string {
	o := rep.opts
	settings := "kmirror's default settings"
	if kv := (&report{opts: o}).settings(); kv != settings {
		settings = "kmirror's default settings and " + strings.TrimPrefix(kv, "settings ")
	}
	return []string{
		"command:   " + rep.command,
		"machine:   " + rep.machine,
		fmt.Sprintf("load avg:  %s at start, %s at end (1, 5, 15 min)", rep.loadStart, rep.loadEnd),
		fmt.Sprintf("workload:  %d records × %d B in each partition; each group has no members and commits on %d partitions of the topics, round-robin over topics and partitions",
			scaleRecords, scaleValue, groupPartitions),
		fmt.Sprintf("kmirror:   one `kmirror run`, identity policy, group offsets synced and checkpoints emitted every %s, groups refreshed every 10 s; %s",
			syncInterval, settings),
		fmt.Sprintf("measured:  once every partition is copied and every group synced, and %s more: idle CPU over %s; status, migrate ready (first group) and GET /api/v1/status: medians of %d; sync delay: %d samples (source commit → target group)",
			scaleSettle, o.idle, scaleTimings, o.syncSamples),
		"brokers:   kmirror dev-cluster (kfake), source and target, one process each",
	}
}

const scaleColumns = "partitions\ttopics\tgroups\tcopied+synced s\tidle CPU cores\tRSS MiB (peak)\tKB RSS/partition\tstatus s\tmigrate ready s\t/api/v1/status s\t/api/v1/status bytes plain / gzip\tsync p50 / p99 s"

// cells are a row's figures, in the order of scaleColumns.
func (r scaleRow) cells() []string {
	ready := "–"
	if r.groups > 0 {
		ready = fmt.Sprintf("%.2f", r.ready.Seconds())
		if r.readyExit != 0 {
			ready += " (not ready)"
		}
	}
	gz := "not gzipped"
	if r.gzipped {
		gz = fmt.Sprint(r.apiGzip)
	}
	sync := "–"
	if len(r.sync) > 0 || r.never > 0 {
		sync = fmt.Sprintf("%.2f / %.2f", quantile(r.sync, 0.5).Seconds(), quantile(r.sync, 0.99).Seconds())
		if r.never > 0 {
			sync += fmt.Sprintf(" (%d of %d never)", r.never, r.never+len(r.sync))
		}
	}
	return []string{
		fmt.Sprint(r.partitions), fmt.Sprint(r.topics), fmt.Sprint(r.groups),
		fmt.Sprintf("%.1f", r.synced.Seconds()),
		fmt.Sprintf("%.3f", r.idleCores),
		fmt.Sprintf("%.0f (%.0f)", float64(r.mem.rss)/(1<<20), float64(r.mem.peak)/(1<<20)),
		fmt.Sprintf("%.1f", float64(r.mem.rss)/1024/float64(r.partitions)),
		fmt.Sprintf("%.2f", r.status.Seconds()),
		ready,
		fmt.Sprintf("%.3f", r.api.Seconds()),
		fmt.Sprintf("%d / %s", r.apiPlain, gz),
		sync,
	}
}

func (rep *scaleReport) text() string {
	return textReport(rep.header(), scaleColumns, func(w io.Writer) {
		for _, r := range rep.rows {
			fmt.Fprintln(w, strings.Join(r.cells(), "\t")+"\t")
		}
	}, nil)
}

func (rep *scaleReport) markdown() string {
	var b strings.Builder
	writeHeader(&b, rep.header())
	cols := strings.Split(scaleColumns, "\t")
	fmt.Fprintln(&b, "| "+strings.Join(cols, " | ")+" |")
	fmt.Fprintln(&b, "|"+strings.Repeat("---:|", len(cols)))
	for _, r := range rep.rows {
		fmt.Fprintln(&b, "| "+strings.Join(r.cells(), " | ")+" |")
	}
	return b.String()
}
