package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/bench/internal/workload"
)

// TestHarnessSmoke runs the whole harness on a tiny workload, so that CI
// exercises it end to end. It checks that every figure was measured and is
// sane, never how fast anything was.
func TestHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kmirror and runs clusters as processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	o := options{
		spec:       workload.Spec{Records: 20_000, Size: 512, Partitions: 4, Keys: workload.KeysUniform},
		set:        []string{"producer.linger.ms=1"},
		tasks:      2,
		runs:       1,
		steady:     2 * time.Second,
		rate:       2000,
		cpuProfile: prof,
		logf:       t.Logf,
		// The source in another codec than the mirror's (none).
		sourceCompression: "lz4",
	}
	rep, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	rows := rep.rows()
	if len(rows) != len(rowOrder) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(rowOrder), rep.text())
	}
	for _, r := range rows {
		if r.recordsPerSec <= 0 || r.mbps <= 0 || r.cpuPerGB <= 0 || r.cpuPerMRec <= 0 {
			t.Errorf("%s: a figure is not positive: %+v", r.name, r)
		}
		if r.name != rowProduce && r.name != rowRaw && r.rssMiB <= 0 {
			t.Errorf("%s: no peak RSS: %+v", r.name, r)
		}
	}
	for _, rr := range rep.runs {
		for name, r := range rr.rows {
			if r.Records != int64(o.spec.Records) {
				t.Errorf("%s: %d records, want %d", name, r.Records, o.spec.Records)
			}
		}
	}
	_, r, p50, p99, _, ok := rep.steady()
	if !ok || r <= 0 || p50 <= 0 || p99 < p50 {
		t.Errorf("steady phase: rate %v, p50 %v ms, p99 %v ms", r, p50, p99)
	}
	vsRaw, vsBare, cpu := rep.ratios()
	if vsRaw <= 0 || vsBare <= 0 || cpu <= 0 {
		t.Errorf("ratios: %v %v %v", vsRaw, vsBare, cpu)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("no CPU profile of kmirror: %v", err)
	}
	md := rep.markdown()
	for _, want := range []string{"| " + rowMirror + " |", "raw limit", "replication latency", "written to the source with lz4"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	t.Log("\n" + rep.text())
}
