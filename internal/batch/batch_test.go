package batch

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// encode makes a record batch at base offset base of values, with the
// given attributes, offset deltas (nil: 0, 1, 2, …) and producer.
func encode(t testing.TB, base int64, attrs int16, deltas []int32, pid int64, values ...string) []byte {
	t.Helper()
	var recs []byte
	last := int32(len(values) - 1)
	for i, v := range values {
		d := int32(i)
		if deltas != nil {
			d = deltas[i]
			last = d
		}
		r := kmsg.Record{OffsetDelta: d, TimestampDelta: int32(i), Key: []byte("k"), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // a placeholder length of one varint byte
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{FirstOffset: base, PartitionLeaderEpoch: 3, Magic: 2, Attributes: attrs, LastOffsetDelta: last,
		FirstTimestamp: time.UnixMilli(1_700_000_000_000).UnixMilli(), MaxTimestamp: 1_700_000_000_000 + int64(len(values)-1),
		ProducerID: pid, ProducerEpoch: 1, FirstSequence: 7, NumRecords: int32(len(values)), Records: recs}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[offLength:], uint32(len(raw)-offLeaderEpoch))
	binary.BigEndian.PutUint32(raw[offCRC:], crc32.Checksum(raw[offAttributes:], crc32c))
	return raw
}

func TestSplit(t *testing.T) {
	a := encode(t, 10, 0, nil, 5, "a", "b", "c")
	b := encode(t, 13, attrTransactional, nil, 6, "d")
	c := encode(t, 14, 0, []int32{0, 2}, -1, "e", "f")
	all := append(append(append([]byte{}, a...), b...), c...)

	got, err := Split(append(all, c[:HeaderSize+2]...)) // and a partial batch
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d batches, want 3", len(got))
	}
	for i, w := range []struct {
		base, next int64
		records    int32
		why        string
		txn        bool
	}{{10, 13, 3, "", false}, {13, 14, 1, "", true}, {14, 17, 2, "offsets removed by compaction", false}} {
		g := got[i]
		if g.BaseOffset() != w.base || g.NextOffset() != w.next || g.Records() != w.records || g.Forwardable() != w.why || g.Transactional() != w.txn {
			t.Errorf("batch %d: base %d next %d records %d forwardable %q transactional %v; want %+v",
				i, g.BaseOffset(), g.NextOffset(), g.Records(), g.Forwardable(), g.Transactional(), w)
		}
	}

	broken := append([]byte{}, a...)
	broken[len(broken)-1] ^= 1
	if _, err := Split(broken); err == nil {
		t.Error("a batch with a wrong crc was accepted")
	}
	old := append([]byte{}, a...)
	old[offMagic] = 1
	if _, err := Split(old); err != ErrMagic {
		t.Errorf("magic 1: %v, want ErrMagic", err)
	}
}

func TestForwardable(t *testing.T) {
	for _, tt := range []struct {
		attrs int16
		why   string
	}{
		{0, ""},
		{int16(Gzip) | attrTransactional, ""},
		{attrControl | attrTransactional, "control batch"},
		{attrLogAppendTime, "log append time"},
		{attrDeleteHorizon, "cleaned with a delete horizon"},
	} {
		if got := Batch(encode(t, 0, tt.attrs, nil, 1, "x")).Forwardable(); got != tt.why {
			t.Errorf("attributes %#x: %q, want %q", tt.attrs, got, tt.why)
		}
	}
}

// TestAppendFor: the rewritten batch is a valid batch of the new producer
// whose records read back as the source's.
func TestAppendFor(t *testing.T) {
	src := Batch(encode(t, 100, attrTransactional|int16(None), nil, 42, "a", "bb", "ccc"))
	out := src.AppendFor([]byte("prefix"), Stamp{ID: 9, Epoch: 2, Sequence: 31})
	if !bytes.Equal(out[:6], []byte("prefix")) {
		t.Fatal("dst's bytes were overwritten")
	}
	got, err := Split(out[6:])
	if err != nil || len(got) != 1 {
		t.Fatalf("split the rewritten batch: %v, %d batches", err, len(got))
	}
	b := got[0]
	if b.BaseOffset() != 0 || b.ProducerID() != 9 || b.Transactional() || !bytes.Equal(b.Section(), src.Section()) {
		t.Errorf("rewritten: base %d producer %d transactional %v, section kept %v", b.BaseOffset(), b.ProducerID(), b.Transactional(), bytes.Equal(b.Section(), src.Section()))
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if rb.ProducerEpoch != 2 || rb.FirstSequence != 31 || rb.PartitionLeaderEpoch != -1 || rb.FirstTimestamp != 1_700_000_000_000 {
		t.Errorf("header: epoch %d sequence %d leader epoch %d first timestamp %d", rb.ProducerEpoch, rb.FirstSequence, rb.PartitionLeaderEpoch, rb.FirstTimestamp)
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: "t"}, &kmsg.FetchResponseTopicPartition{RecordBatches: b}, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil || len(fp.Records) != 3 || string(fp.Records[2].Value) != "ccc" || fp.Records[2].Offset != 2 {
		t.Fatalf("franz-go reads %d records, err %v", len(fp.Records), fp.Err)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(encode(f, 0, 0, nil, 1, "a", "b"))
	f.Add(append(encode(f, 5, 0, []int32{0, 3}, 1, "a", "b"), 0, 0, 0))
	f.Fuzz(func(t *testing.T, in []byte) {
		bs, err := Split(in)
		n := 0
		for _, b := range bs {
			n += len(b)
			if b[offMagic] != 2 || len(b) < HeaderSize {
				t.Fatalf("returned a batch of magic %d, %d bytes", b[offMagic], len(b))
			}
			_ = b.Forwardable()
		}
		if n > len(in) {
			t.Fatalf("batches of %d bytes out of %d", n, len(in))
		}
		if err == nil && len(in)-n >= HeaderSize {
			// What is left must be a partial batch.
			if l := int64(int32(binary.BigEndian.Uint32(in[n+offLength:]))); int64(len(in)-n) >= offLeaderEpoch+l {
				t.Fatalf("a whole batch of %d bytes left unread", l)
			}
		}
	})
}
