package progress

import (
	"testing"

	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

func TestCodecRoundTrip(t *testing.T) {
	key, value := EncodeSegment("app1-t1", 7, offsetmap.Segment{Source: 1 << 40, Target: 12345, Count: 9})
	k, ok, err := DecodeSegmentKey(key)
	if err != nil || !ok || k != (SegmentKey{Topic: "app1-t1", Partition: 7, Source: 1 << 40}) {
		t.Fatalf("key %+v %v %v", k, ok, err)
	}
	if v, n, err := DecodeSegmentValue(value); err != nil || v != 12345 || n != 9 {
		t.Fatalf("value %d %d %v", v, n, err)
	}
	// MM2's own offset-sync key (topic STRING, partition INT32) is not ours.
	mm2 := []byte{0, 7, 'a', 'p', 'p', '1', '-', 't', '1', 0, 0, 0, 7}
	if _, ok, err := DecodeSegmentKey(mm2); ok || err != nil {
		t.Errorf("MM2 key taken for a kmirror segment: %v %v", ok, err)
	}
}

// kmirror's segments share the offset-syncs topic with MM2's syncs, and
// neither is taken for the other.
func TestSegmentIsNoMM2Sync(t *testing.T) {
	seg, segValue := EncodeSegment("orders", 2, offsetmap.Segment{Source: 5, Target: 5, Count: 3})
	if _, _, ok, err := mm2.DecodeSync(seg, segValue); ok || err != nil {
		t.Errorf("a kmirror segment decoded as an MM2 sync: ok %v err %v", ok, err)
	}
	k, _ := mm2.EncodeSync(mm2.Partition{Topic: "orders", Partition: 2}, mm2.Sync{Upstream: 5, Downstream: 5})
	if _, ok, err := DecodeSegmentKey(k); ok || err != nil {
		t.Errorf("an MM2 sync decoded as a kmirror segment: ok %v err %v", ok, err)
	}
}

func FuzzDecodeSegment(f *testing.F) {
	k, v := EncodeSegment("t", 0, offsetmap.Segment{Source: 5, Target: 9})
	f.Add(k, v)
	f.Fuzz(func(t *testing.T, key, value []byte) {
		sk, ok, err := DecodeSegmentKey(key)
		if !ok || err != nil {
			return
		}
		tgt, n, err := DecodeSegmentValue(value)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		k2, v2 := EncodeSegment(sk.Topic, sk.Partition, offsetmap.Segment{Source: sk.Source, Target: tgt, Count: n})
		if string(k2) != string(key) || string(v2) != string(value) {
			t.Fatalf("round trip changed the record: %x/%x → %x/%x", key, value, k2, v2)
		}
	})
}

// BenchmarkEncodeSegment is the cost of one offset-sync record, written
// per new segment and flush.
func BenchmarkEncodeSegment(b *testing.B) {
	s := offsetmap.Segment{Source: 1 << 40, Target: 1 << 39, Count: 12345}
	var n int
	for b.Loop() {
		k, v := EncodeSegment("app1-orders", 17, s)
		n = len(k) + len(v)
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeSegment reads one back, as a restarting worker does for
// every segment of its partitions.
func BenchmarkDecodeSegment(b *testing.B) {
	k, v := EncodeSegment("app1-orders", 17, offsetmap.Segment{Source: 1 << 40, Target: 1 << 39, Count: 12345})
	b.SetBytes(int64(len(k) + len(v)))
	for b.Loop() {
		if _, _, err := DecodeSegmentKey(k); err != nil {
			b.Fatal(err)
		}
		if _, _, err := DecodeSegmentValue(v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
