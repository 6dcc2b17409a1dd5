package heartbeat

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/testbed"
)

// MM2's Heartbeat schemas: key Struct(sourceClusterAlias STRING,
// targetClusterAlias STRING); value = Struct(version INT16 0) +
// Struct(timestamp INT64).
func TestRecordMatchesMM2Bytes(t *testing.T) {
	r := Record{Source: "src", Target: "dst", Timestamp: time.UnixMilli(1700000000123)}
	key, value, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(key), "0003"+hex.EncodeToString([]byte("src"))+"0003"+hex.EncodeToString([]byte("dst")); got != want {
		t.Errorf("key %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(value), "0000"+"0000018bcfe5687b"; got != want {
		t.Errorf("value %s, want %s", got, want)
	}
	d, err := Decode(key, value)
	if err != nil || d.Source != "src" || d.Target != "dst" || !d.Timestamp.Equal(r.Timestamp) {
		t.Fatalf("Decode = %+v, %v", d, err)
	}
}

func FuzzDecode(f *testing.F) {
	k, v, err := Record{Source: "a", Target: "b", Timestamp: time.UnixMilli(5)}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k, v)
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := Decode(key, value)
		if err != nil {
			return
		}
		// A decoded alias fits a STRING, so it encodes again.
		k2, v2, err := r.Encode()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", r, err)
		}
		if !bytes.Equal(k2, key) || !bytes.Equal(v2, value) {
			t.Fatalf("round trip changed %x/%x into %x/%x", key, value, k2, v2)
		}
	})
}

func TestEmitter(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	cfg := testbed.Config(t, src, tgt, "")
	e := NewEmitter(cfg.Flows[0], tgt.Client(t), slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	testbed.WaitFor(t, 10*time.Second, "two heartbeats", func() bool { return tgt.EndOffsets(t, "heartbeats")[0] >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs := tgt.Read(t, "heartbeats", 0)
	r, err := Decode(recs[0].Key, recs[0].Value)
	if err != nil || r.Source != "source" || r.Target != "target" || time.Since(r.Timestamp) > time.Minute {
		t.Fatalf("heartbeat %+v, %v", r, err)
	}
	if last, rtt := e.Last(); last.IsZero() || rtt <= 0 {
		t.Errorf("Last() = %v, %v", last, rtt)
	}
}
