package progress

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// BenchmarkCacheFlush is what a worker's cache pays per flush: a running
// worker persists the progress of the partitions that moved (here one in
// a hundred) every 500 ms, its cache reads those records, and the next
// Read hands out a new snapshot. Each partition has 20 segments (gaps) and
// 20 MM2-format syncs.
func BenchmarkCacheFlush(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			c := &Cache{log: slog.New(slog.DiscardHandler), progressTopic: "p", mapTopic: "m", syncsTopic: "s",
				marks: map[Partition]Mark{}, segments: map[Partition]map[int64]offsetmap.Segment{},
				legacy: map[Partition]map[int64]offsetmap.Segment{}, mm2: map[Partition]mm2.History{}, dirty: map[Partition]bool{}}
			mark := func(i int, end int64) {
				p := Partition{Topic: fmt.Sprintf("t%d", i/100), Partition: int32(i % 100)}
				k, v := EncodeMark(p, Mark{ClusterID: "c", Start: 0, End: offsetmap.Segment{Source: end, Target: end - 20}})
				c.takeMark(&kgo.Record{Key: k, Value: v})
			}
			for i := range n {
				p := Partition{Topic: fmt.Sprintf("t%d", i/100), Partition: int32(i % 100)}
				for s := range int64(20) {
					k, v := EncodeSegment(p.Topic, p.Partition, offsetmap.Segment{Source: s * 101, Target: s * 100, Count: 100})
					c.takeSegment(&kgo.Record{Key: k, Value: v})
					k, v = mm2.EncodeSync(p, mm2.Sync{Upstream: s * 101, Downstream: s * 100})
					c.takeSync(&kgo.Record{Key: k, Value: v})
				}
				mark(i, 20*101)
			}
			c.snapshot()
			end := int64(20 * 101)
			b.ResetTimer()
			for range b.N {
				end++
				for i := 0; i < n; i += 100 {
					mark(i, end)
				}
				c.snapshot()
			}
		})
	}
}
