package heartbeat

import (
	"testing"
	"time"
)

// BenchmarkEncode is the cost of one MM2 heartbeat record.
func BenchmarkEncode(b *testing.B) {
	r := Record{Source: "my-source-cluster", Target: "my-target-cluster", Timestamp: time.UnixMilli(1_700_000_000_000)}
	var n int
	for b.Loop() {
		k, v, err := r.Encode()
		if err != nil {
			b.Fatal(err)
		}
		n = len(k) + len(v)
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecode reads one back.
func BenchmarkDecode(b *testing.B) {
	k, v, err := Record{Source: "my-source-cluster", Target: "my-target-cluster", Timestamp: time.UnixMilli(1_700_000_000_000)}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(k) + len(v)))
	for b.Loop() {
		if _, err := Decode(k, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
