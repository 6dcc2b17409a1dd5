package mirror

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// BenchmarkPartitionCopy is kmirror's own work per copied record, without
// Kafka: the task hands a fetch's records over (partition.send) and the
// producer acknowledges each (partition.acked), which extends the offset map.
// window records are in flight between the two, as while the producer has
// a request outstanding.
//
//	go test ./internal/mirror -run XXX -bench PartitionCopy
func BenchmarkPartitionCopy(b *testing.B) {
	for _, window := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			p := newPartition(partitionSpec{key: progress.Partition{Topic: "bench"}, target: "bench", m: offsetmap.New(0, 0), fail: func(error) {}})
			recs := make([]*kgo.Record, window)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: "bench", Value: make([]byte, 1024), Timestamp: time.Now()}
			}
			b.SetBytes(1024)
			batch := make([]*kgo.Record, 0, window)
			var off int64
			for b.Loop() {
				// One window at a time: per loop iteration, one record on
				// average is fetched, sent and acked.
				r := recs[off%int64(window)]
				r.Offset = off
				batch = append(batch, r)
				if len(batch) == window {
					for _, r := range p.send(batch, nil) {
						p.ack(r, nil)
					}
					batch = batch[:0]
				}
				off++
			}
			b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "records/s")
			if p.failed != nil {
				b.Fatal(p.failed)
			}
		})
	}
}

// BenchmarkPartitionCopyContended runs send and acked on two goroutines, as
// the task and the producer's promise goroutine do, on one partition.
func BenchmarkPartitionCopyContended(b *testing.B) {
	p := newPartition(partitionSpec{key: progress.Partition{Topic: "bench"}, target: "bench", m: offsetmap.New(0, 0), fail: func(error) {}})
	const window = 1024
	recs := make([]*kgo.Record, window)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "bench", Value: make([]byte, 1024), Timestamp: time.Now()}
	}
	// acks carries a record once the sender is done with it: a ring of
	// window records, each sent before it is acked, in order.
	acks := make(chan *kgo.Record, window/2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range acks {
			p.ack(r, nil)
		}
	}()
	b.SetBytes(1024)
	var off int64
	// The task sends what one fetch returned, fetch by fetch.
	const fetch = 64
	batch := make([]*kgo.Record, 0, fetch)
	for b.Loop() {
		r := recs[off%window]
		r.Offset = off
		batch = append(batch, r)
		if len(batch) == fetch {
			for _, r := range p.send(batch, nil) {
				acks <- r
			}
			batch = batch[:0]
		}
		off++
	}
	close(acks)
	<-done
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "records/s")
	if p.failed != nil {
		b.Fatal(p.failed)
	}
}

// BenchmarkEncodeProgress is the flusher's cost per partition and flush.
func BenchmarkEncodeProgress(b *testing.B) {
	k := progress.Partition{Topic: "app1-orders", Partition: 7}
	pr := progress.Mark{ClusterID: "J8qZ3bV5S1WcXyJ0bLrN9w", Start: 1, End: offsetmap.Segment{Source: 1 << 40, Target: 1 << 39}}
	var n int
	for b.Loop() {
		key, value := progress.EncodeMark(k, pr)
		n = len(key) + len(value)
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
