package checkpoint

import "testing"

// benchRecord is a checkpoint as the syncer writes one per group partition
// and interval.
var benchRecord = Record{Group: "app1-consumers", Topic: "app1-orders", Partition: 17, Upstream: 1 << 40, Downstream: 1<<40 - 12345, Metadata: ""}

// BenchmarkRecordEncode is the cost of one MM2 checkpoint record.
func BenchmarkRecordEncode(b *testing.B) {
	var n int
	for b.Loop() {
		k, v, err := benchRecord.Encode()
		if err != nil {
			b.Fatal(err)
		}
		n = len(k) + len(v)
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRecordDecode reads one back, as when taking over from MM2.
func BenchmarkRecordDecode(b *testing.B) {
	k, v := encode(b, benchRecord)
	b.SetBytes(int64(len(k) + len(v)))
	for b.Loop() {
		if _, err := Decode(k, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
