package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/bench/internal/workload"
)

// The matrix holds the eight configurations, medians of 3 runs for
// the two rows the comparison leans on.
func TestMatrixCases(t *testing.T) {
	cs := matrixCases()
	var names, anchors []string
	for _, c := range cs {
		names = append(names, c.name())
		if c.runs == 3 {
			anchors = append(anchors, c.name())
		}
		if c.runs != 1 && c.runs != 3 || c.records <= 0 || c.size*c.records > 1<<30+c.size {
			t.Errorf("%s: %d runs of %d records", c.name(), c.runs, c.records)
		}
	}
	want := "seed's settings, none source, 1 KiB|seed's settings, gzip source, 1 KiB|seed's settings, zstd source, 1 KiB|" +
		"defaults, none source, 1 KiB|defaults, gzip source, 1 KiB|defaults, zstd source, 1 KiB|" +
		"seed's settings, gzip source, 100 B|seed's settings, gzip source, 10 KiB"
	if got := strings.Join(names, "|"); got != want {
		t.Errorf("cases:\n%s\nwant\n%s", got, want)
	}
	if got := strings.Join(anchors, "|"); got != "seed's settings, gzip source, 1 KiB|defaults, none source, 1 KiB" {
		t.Errorf("3 runs for %s", got)
	}
}

// A matrix row gives each mirror's figure and the ratio, and kmirror's MB of
// payload per CPU-second, from the medians of the case's runs.
func TestMatrixTable(t *testing.T) {
	run := func(mm2CPU, kmrCPU float64) *kafkaRunResult {
		fig := func(rate, cpu float64, rss int64, p50 time.Duration) *mirrorFigures {
			return &mirrorFigures{
				catchUp: workload.Result{Records: 1_000_000, Seconds: 1e6 / rate, CPUSeconds: cpu, MaxRSS: rss << 20},
				steady:  &workload.Result{P50: p50, P99: 2 * p50, Rate: 1000},
			}
		}
		return &kafkaRunResult{mirrors: map[string]*mirrorFigures{
			mirrorMM2:     fig(25_000, mm2CPU, 800, 300*time.Millisecond),
			mirrorKmirror: fig(125_000, kmrCPU, 200, 6*time.Millisecond),
		}}
	}
	rep := &matrixReport{command: "go run ./bench -kafka 4 -matrix", cases: matrixCases()[:1]}
	rep.reports = []*kafkaReport{{opts: options{tasks: 2}, version: "4.3.1",
		runs: []*kafkaRunResult{run(50, 2), run(60, 1), run(70, 4)}}}
	md := rep.markdown()
	for _, want := range []string{
		"| seed's settings, none source, 1 KiB | 3 | 25000 / 125000 (5.00×) | 60.00 / 2.00 (0.03×) | 800 / 200 (0.25×) | 300.0 / 6.0 (0.02×) | 600.0 / 12.0 (0.02×) | 512 (MM2 17) |",
		"command:   go run ./bench -kafka 4 -matrix",
		"Apache Kafka 4.3.1",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the markdown lacks %q:\n%s", want, md)
		}
	}
	if txt := rep.text(); !strings.Contains(txt, "seed's settings, none source, 1 KiB") {
		t.Errorf("the text lacks the row:\n%s", txt)
	}
}
