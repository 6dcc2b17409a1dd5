package offsetmap

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkObserveTransactional is Observe on a partition where a
// transaction marker follows every 100 records, so each one opens a new
// segment, the worst steady case of the copy path.
func BenchmarkObserveTransactional(b *testing.B) {
	p := New(0, 0)
	var src, tgt int64
	for b.Loop() {
		if _, err := p.Observe(src, tgt); err != nil {
			b.Fatal(err)
		}
		src, tgt = src+1, tgt+1
		if src%100 == 0 {
			src++ // the marker: a source offset with nothing copied
			tgt++ // kmirror's own marker on the target
		}
		// Keep the map from growing without bound, as truncation does.
		if len(p.segs) > 4096 {
			p.Truncate(p.segs[2048].Source)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkTranslateContiguous translates in a map of one segment: the
// common case of a topic without transactions or compaction.
func BenchmarkTranslateContiguous(b *testing.B) {
	p := New(0, 0)
	for i := range int64(1_000_000) {
		if _, err := p.Observe(i, i); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		if _, res := p.Translate(rng.Int64N(1_000_000)); res != Exact {
			b.Fatal(res)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "translations/s")
}
