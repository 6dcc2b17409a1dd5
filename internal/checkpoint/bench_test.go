package checkpoint

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// BenchmarkSourceCommitToTargetCommit follows 2 000 groups × 8 partitions
// with kmirror's default intervals, and measures how long one round over
// all of them takes and how long a source commit takes to reach the
// target group (p50, p99).
//
//	go test ./internal/checkpoint -run XXX -bench SourceCommit -benchtime 100x
func BenchmarkSourceCommitToTargetCommit(b *testing.B) {
	const groups, parts = 2000, 8
	src, tgt := testbed.NewCluster(b), testbed.NewCluster(b)
	if err := src.CreateTopic("app-a", parts, nil); err != nil {
		b.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range parts * 1000 {
		recs = append(recs, &kgo.Record{Topic: "app-a", Partition: int32(i % parts), Value: []byte{1}})
	}
	src.Produce(b, recs)
	bd := startBed(b, src, tgt, syncAll, bedOptions{})
	ctx := context.Background()
	want := map[string]map[int32]int64{}
	for g := range groups {
		name := fmt.Sprintf("app-g%04d", g)
		o := kadm.Offsets{}
		want[name] = map[int32]int64{}
		for p := range int32(parts) {
			o.Add(kadm.Offset{Topic: "app-a", Partition: p, At: int64(g % 500), LeaderEpoch: -1})
			want[name][p] = int64(g % 500)
		}
		if _, err := bd.srcAdm.CommitOffsets(ctx, name, o); err != nil {
			b.Fatal(err)
		}
	}
	bd.synced(b, want, 5*time.Minute)

	var lat []time.Duration
	next := int64(500)
	b.ResetTimer()
	for b.Loop() {
		name := fmt.Sprintf("app-g%04d", int(next)%groups)
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: "app-a", Partition: 3, At: next, LeaderEpoch: -1})
		began := time.Now()
		if _, err := bd.srcAdm.CommitOffsets(ctx, name, o); err != nil {
			b.Fatal(err)
		}
		for {
			resp, err := bd.tgtAdm.FetchOffsets(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			if r, ok := resp.Lookup("app-a", 3); ok && r.At == next {
				break
			}
			if time.Since(began) > time.Minute {
				b.Fatalf("%s not synced within a minute", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(began))
		next++
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(groups*parts, "partitions")
}
