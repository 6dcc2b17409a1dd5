package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// FuzzGather: gathering uncompressed batches, numbered one after the other
// as a log holds them, makes the very batch the Encoder makes of all their
// records at once, byte for byte; and franz-go reads the records back.
func FuzzGather(f *testing.F) {
	f.Add(uint64(1), 5, 3)
	f.Add(uint64(2), 1, 1)
	f.Add(uint64(3), 200, 17)
	f.Fuzz(func(t *testing.T, seed uint64, n, cut int) {
		if n < 1 || n > 500 || cut < 1 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 0))
		base := time.UnixMilli(1_700_000_000_000)
		recs := make([]*kgo.Record, n)
		for i := range recs {
			rec := &kgo.Record{Value: bytes.Repeat([]byte{byte(i)}, r.IntN(300)),
				// Times out of order, far apart: deltas of every size.
				Timestamp: base.Add(time.Duration(r.Int64N(1<<40)-1<<39) * time.Microsecond)}
			if r.IntN(3) > 0 {
				rec.Key = fmt.Appendf(nil, "k%d", r.IntN(1000))
			}
			if r.IntN(4) == 0 {
				rec.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte{1, 2}}, {Key: "nil"}}
			}
			recs[i] = rec
		}
		one, err := NewEncoder(None, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := one.Encode(nil, recs)

		// The same records in batches of at most cut records, numbered
		// from 1000 on, as a log would hold them.
		small, _ := NewEncoder(None, 1<<30)
		var bs []Batch
		next := int64(1000)
		for rest := recs; len(rest) > 0; {
			k := min(cut, len(rest))
			raw, _ := small.Encode(nil, rest[:k])
			binary.BigEndian.PutUint64(raw[offBaseOffset:], uint64(next))
			bs = append(bs, Batch(raw))
			next += int64(k)
			rest = rest[k:]
		}
		got, err := Gather(bs)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("gathered %d batches into %d bytes, the encoder made %d; equal headers: %v", len(bs), len(got), len(want), bytes.Equal(got[:HeaderSize], want[:HeaderSize]))
		}
		if back := decode(t, got); len(back) != n {
			t.Fatalf("%d records read back, want %d", len(back), n)
		}
	})
}

// Gather refuses what it cannot renumber: compressed batches, batches with
// a gap between them, none at all.
func TestGatherRefuses(t *testing.T) {
	recs := []*kgo.Record{{Value: []byte("a"), Timestamp: time.UnixMilli(1)}, {Value: []byte("b"), Timestamp: time.UnixMilli(2)}}
	plain, _ := NewEncoder(None, 1<<20)
	gz, _ := NewEncoder(Gzip, 1<<20)
	a, _ := plain.Encode(nil, recs)
	b, _ := plain.Encode(nil, recs)
	binary.BigEndian.PutUint64(b[offBaseOffset:], 5) // a ends at 2
	z, _ := gz.Encode(nil, recs)
	for name, bs := range map[string][]Batch{"none": nil, "gzip": {z}, "gap": {a, b}} {
		if _, err := Gather(bs); err == nil {
			t.Errorf("%s: gathered", name)
		}
	}
}
