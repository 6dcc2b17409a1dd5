package verify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// BenchmarkVerify compares 100k mirrored records on 8 partitions, in
// process against kfake clusters; bytes are the source records' key, value
// and headers.
func BenchmarkVerify(b *testing.B) {
	const partitions, n = 8, 100_000
	src, tgt := testbed.NewCluster(b), testbed.NewCluster(b)
	if err := src.CreateTopic("bench", partitions, nil); err != nil {
		b.Fatal(err)
	}
	var size int64
	ts := time.Now().Add(-time.Hour)
	for batch := 0; batch < n; batch += 10_000 {
		recs := make([]*kgo.Record, 0, 10_000)
		for i := batch; i < batch+10_000; i++ {
			r := &kgo.Record{Topic: "bench", Partition: int32(i % partitions), Key: fmt.Appendf(nil, "key-%d", i%1000),
				Value: fmt.Appendf(nil, "%0100d", i), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("0123456789abcdef")}},
				Timestamp: ts.Add(time.Duration(i) * time.Millisecond)}
			size += int64(len(r.Key) + len(r.Value) + len(r.Headers[0].Key) + len(r.Headers[0].Value))
			recs = append(recs, r)
		}
		src.Produce(b, recs)
	}
	cfg := testbed.Config(b, src, tgt, `    topicsPattern: "bench"`)
	mirrorAll(b, cfg, src, "bench")

	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		r, err := Run(context.Background(), cfg, Options{Topics: []string{"bench"}}, testbed.Logger(b))
		if err != nil {
			b.Fatal(err)
		}
		if !r.Identical || r.Total.Compared != n {
			b.Fatalf("identical %v, compared %d", r.Identical, r.Total.Compared)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
