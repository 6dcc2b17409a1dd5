package heartbeat

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"
)

// MM2's Heartbeat schemas: key Struct(sourceClusterAlias STRING,
// targetClusterAlias STRING); value = Struct(version INT16 0) +
// Struct(timestamp INT64).
func TestRecordMatchesMM2Bytes(t *testing.T) {
	r := Record{Source: "src", Target: "dst", Timestamp: time.UnixMilli(1700000000123)}
	key, value := r.Encode()
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
	k, v := Record{Source: "a", Target: "b", Timestamp: time.UnixMilli(5)}.Encode()
	f.Add(k, v)
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := Decode(key, value)
		if err != nil {
			return
		}
		k2, v2 := r.Encode()
		if !bytes.Equal(k2, key) || !bytes.Equal(v2, value) {
			t.Fatalf("round trip changed %x/%x into %x/%x", key, value, k2, v2)
		}
	})
}
