package offsetmap

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkObserve is the per-record cost on the copy path, for a
// contiguous partition (no new segments).
func BenchmarkObserve(b *testing.B) {
	p := New(0, 0)
	var i int64
	for b.Loop() {
		if _, err := p.Observe(i, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(len(p.Segments())), "segments")
}

// BenchmarkTranslate translates random offsets in a map of many segments
// (a compacted, transactional partition).
func BenchmarkTranslate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	c, p := simulate(rng, 0, 1_000_000, 0.5, 0.01)
	b.ReportMetric(float64(len(p.Segments())), "segments")
	for b.Loop() {
		p.Translate(rng.Int64N(c.end.Source))
	}
}
