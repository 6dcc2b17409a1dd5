package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// decode reads batches back with franz-go, at offsets from 0.
func decode(t *testing.T, raw []byte) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	bs, err := Split(raw)
	if err != nil {
		t.Fatal(err)
	}
	next := int64(0)
	for _, b := range bs {
		// Number the batches one after the other, as the log would.
		w := bytes.Clone(b)
		for i := range 8 {
			w[i] = byte(next >> (56 - 8*i))
		}
		fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: "t"}, &kmsg.FetchResponseTopicPartition{RecordBatches: w}, kgo.DefaultDecompressor(), nil)
		if fp.Err != nil {
			t.Fatal(fp.Err)
		}
		out = append(out, fp.Records...)
		next = Batch(w).NextOffset()
	}
	return out
}

func TestEncode(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	recs := []*kgo.Record{
		{Key: []byte("k"), Value: []byte("v"), Timestamp: base},
		{Key: nil, Value: []byte{}, Timestamp: base.Add(-time.Second)}, // null key, empty value, an earlier time
		{Key: []byte("tomb"), Value: nil, Timestamp: base.Add(time.Hour)},
		{Value: []byte(strings.Repeat("x", 300)), Timestamp: base, Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("1")}, {Key: "", Value: nil}}},
		{Value: []byte(strings.Repeat("y", 5000)), Timestamp: base}, // larger than a batch: alone
		{Value: []byte("z"), Timestamp: base},
	}
	for _, codec := range []Codec{None, Gzip, Snappy, Lz4, Zstd} {
		t.Run(codec.String(), func(t *testing.T) {
			e, err := NewEncoder(codec, 1000)
			if err != nil {
				t.Fatal(err)
			}
			raw, counts := e.Encode([]byte("keep"), recs)
			if string(raw[:4]) != "keep" {
				t.Fatal("dst overwritten")
			}
			if want := []int{4, 1, 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
				t.Errorf("records per batch %v, want %v", counts, want)
			}
			bs, _ := Split(raw[4:])
			for _, b := range bs {
				if b.Codec() != codec || b.Forwardable() != "" {
					t.Errorf("batch of codec %s, forwardable %q", b.Codec(), b.Forwardable())
				}
			}
			// Next makes the same batches one at a time, each in a
			// buffer of about its size.
			rest := recs
			for i := 0; len(rest) > 0; i++ {
				b, n := e.Next(rest)
				rest = rest[n:]
				if i >= len(bs) || n != counts[i] || !bytes.Equal(b, bs[i]) || cap(b) > len(b)+len(b)/4+64 {
					t.Fatalf("Next's batch %d: %d records, %d bytes in %d; Encode's: %v records, %d batches", i, n, len(b), cap(b), counts, len(bs))
				}
			}
			got := decode(t, raw[4:])
			if len(got) != len(recs) {
				t.Fatalf("%d records back, want %d", len(got), len(recs))
			}
			for i, r := range recs {
				g := got[i]
				if !bytes.Equal(g.Key, r.Key) || (g.Key == nil) != (r.Key == nil) || !bytes.Equal(g.Value, r.Value) || (g.Value == nil) != (r.Value == nil) ||
					!g.Timestamp.Equal(r.Timestamp) || fmt.Sprint(g.Headers) != fmt.Sprint(r.Headers) || g.Offset != int64(i) {
					t.Errorf("record %d: %+v, want %+v", i, g, r)
				}
			}
		})
	}
}

func TestVarlongLen(t *testing.T) {
	for _, v := range []int64{0, -1, 63, -64, 64, 1 << 20, -1 << 40, 1<<63 - 1, -1 << 63} {
		var b [16]byte
		if got, want := varlongLen(v), len(binaryAppendVarint(b[:0], v)); got != want {
			t.Errorf("varlongLen(%d) = %d, want %d", v, got, want)
		}
	}
}

func binaryAppendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }
