package mirror

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// throttle.bytes.per.second caps the rate at which a worker reads the
// source. Only a lower bound on the time is asserted: a slower machine can
// only take longer.
func TestThrottleCapsTheSourceRate(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	// Random values: the cap counts bytes as fetched, which a compressed
	// batch of repeated bytes would make a few.
	rng := rand.New(rand.NewPCG(1, 2))
	var recs []*kgo.Record
	for i := range 300 { // 3 MB
		value := make([]byte, 10_000)
		for j := range value {
			value[j] = byte(rng.Uint32())
		}
		recs = append(recs, &kgo.Record{Topic: "app-a", Partition: int32(i % 2), Value: value})
	}
	src.Produce(t, recs)
	began := time.Now()
	r := start(t, testbed.Config(t, src, tgt, identity+"        throttle.bytes.per.second: 1000000\n"))
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, time.Minute)
	elapsed := time.Since(began)
	r.stop(t)
	// A 1 MB burst, then 1 MB/s: 3 MB take at least 2 s.
	if elapsed < 2*time.Second {
		t.Errorf("3 MB copied in %s at a cap of 1 MB/s", elapsed)
	}
	t.Logf("3 MB copied in %s at a cap of 1 MB/s", elapsed.Round(10*time.Millisecond))
}
