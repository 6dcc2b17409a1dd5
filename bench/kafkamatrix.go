package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// matrixCase is one configuration of the -matrix table: the mirrors'
// producer settings, the codec the source is written with, the records.
type matrixCase struct {
	seed    bool // the seed's producer settings; false is the clients' defaults
	codec   string
	size    int // value bytes
	records int
	runs    int // medians of this many runs
}

func (c matrixCase) name() string {
	settings := "defaults"
	if c.seed {
		settings = "seed's settings"
	}
	return fmt.Sprintf("%s, %s source, %s", settings, c.codec, sizeName(c.size))
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// matrixCases are the configurations of the matrix: at the seed's
// settings and at the defaults, sources written with none, gzip and zstd
// (1 KiB records), and at the seed's settings with gzip, 100 B and 10 KiB
// records. The two rows the comparison leans on take medians of 3 runs.
// Record counts keep each load near 1 GB, but for 100 B records, where 2 M
// keep the catch-up long enough to time.
func matrixCases() []matrixCase {
	var cs []matrixCase
	for _, seed := range []bool{true, false} {
		for _, codec := range []string{"none", "gzip", "zstd"} {
			runs := 1
			if seed && codec == "gzip" || !seed && codec == "none" {
				runs = 3
			}
			cs = append(cs, matrixCase{seed: seed, codec: codec, size: 1024, records: 1_000_000, runs: runs})
		}
	}
	return append(cs,
		matrixCase{seed: true, codec: "gzip", size: 100, records: 2_000_000, runs: 1},
		matrixCase{seed: true, codec: "gzip", size: 10 << 10, records: 100_000, runs: 1})
}

// matrixReport is the outcome of -matrix: one real-Kafka report per case.
type matrixReport struct {
	command string
	cases   []matrixCase
	reports []*kafkaReport
}

// kafkaMatrix runs every case of the matrix with o's other settings,
// measuring the catch-up and the latency only (no group sync, no cutover).
func kafkaMatrix(ctx context.Context, o options) (*matrixReport, error) {
	rep := &matrixReport{cases: matrixCases()}
	for i, c := range rep.cases {
		co := o
		co.seedProducer, co.sourceCompression, co.runs = c.seed, c.codec, c.runs
		co.spec.Size, co.spec.Records = c.size, c.records
		co.copyOnly = true
		o.logf("matrix %d of %d: %s, %d run(s)", i+1, len(rep.cases), c.name(), c.runs)
		r, err := kafkaRun(ctx, co)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name(), err)
		}
		rep.reports = append(rep.reports, r)
	}
	return rep, nil
}

// matrixColumns are the figures of a matrix row, each MM2's, kmirror's
// and their ratio.
var matrixColumns = []struct {
	name string
	row  string // the kafkaReport row it comes from
}{
	{"records/s", "catch-up: records/s"},
	{"CPU-s per M records", "catch-up: CPU-s per M records (mirror process)"},
	{"peak RSS MiB", "catch-up: peak RSS MiB (VmHWM)"},
	{"latency p50 ms", "replication latency p50 ms"},
	{"latency p99 ms", "replication latency p99 ms"},
}

// cells are a case's figures: per column MM2's, kmirror's and the ratio,
// then kmirror's MB of payload per CPU-second.
func (rep *matrixReport) cells(i int) []string {
	rows := map[string]kafkaRow{}
	for _, r := range rep.reports[i].rows() {
		rows[r.name] = r
	}
	var out []string
	for _, c := range matrixColumns {
		out = append(out, rows[c.row].triple())
	}
	perCPU := "–"
	if r := rows["catch-up: CPU-s per M records (mirror process)"]; r.ok && r.kmr > 0 {
		c := rep.cases[i]
		perCPU = fmt.Sprintf("%.0f (MM2 %.0f)", float64(c.size)/r.kmr, float64(c.size)/r.mm2)
	}
	return append(out, perCPU)
}

// triple is "MM2 / kmirror (ratio×)".
func (r kafkaRow) triple() string {
	a, k, x := r.cells()
	if x == "–" {
		return a + " / " + k
	}
	return fmt.Sprintf("%s / %s (%s×)", a, k, x)
}

func (rep *matrixReport) columns() []string {
	cols := []string{"configuration", "runs"}
	for _, c := range matrixColumns {
		cols = append(cols, c.name+": MM2 / kmirror (÷)")
	}
	return append(cols, "MB payload per CPU-s")
}

func (rep *matrixReport) header() []string {
	h := []string{"command:   " + rep.command}
	if len(rep.reports) > 0 {
		r := rep.reports[0]
		h = append(h, "machine:   "+r.machine, "brokers:   Apache Kafka "+r.version+", one KRaft node per cluster; MM2 and kmirror one after the other, as in -kafka",
			fmt.Sprintf("settings:  tasks.max=%d; the seed's settings are %s; the defaults are the clients' own", r.opts.tasks, strings.Join(seedProducer, ", ")))
	}
	return append(h, "measured:  the catch-up (the load written before the mirror starts) and the latency under a steady load at half the slower mirror's rate; no group sync or cutover")
}

func (rep *matrixReport) text() string {
	return textReport(rep.header(), strings.Join(rep.columns(), "\t"), func(w io.Writer) {
		for i, c := range rep.cases[:len(rep.reports)] {
			fmt.Fprintf(w, "%s\t%d\t%s\t\n", c.name(), len(rep.reports[i].runs), strings.Join(rep.cells(i), "\t"))
		}
	}, nil)
}

func (rep *matrixReport) markdown() string {
	var b strings.Builder
	writeHeader(&b, rep.header())
	cols := rep.columns()
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	for i, c := range rep.cases[:len(rep.reports)] {
		fmt.Fprintf(&b, "| %s | %d | %s |\n", c.name(), len(rep.reports[i].runs), strings.Join(rep.cells(i), " | "))
	}
	return b.String()
}
