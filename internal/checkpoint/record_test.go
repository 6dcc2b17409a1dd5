package checkpoint

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The vectors follow MM2's Checkpoint schemas: key Struct(group STRING,
// topic STRING, partition INT32); value = header Struct(version INT16 0) +
// Struct(upstreamOffset INT64, offset INT64, metadata STRING); STRING is an
// INT16 length and UTF-8, integers are big-endian.
func TestRecordMatchesMM2Bytes(t *testing.T) {
	r := Record{Group: "app1-consumer", Topic: "app1-t1", Partition: 3, Upstream: 1000, Downstream: 998, Metadata: "m"}
	wantKey := "000d" + hex.EncodeToString([]byte("app1-consumer")) + "0007" + hex.EncodeToString([]byte("app1-t1")) + "00000003"
	wantValue := "0000" + "00000000000003e8" + "00000000000003e6" + "0001" + "6d"
	key, value := r.Encode()
	if hex.EncodeToString(key) != wantKey || hex.EncodeToString(value) != wantValue {
		t.Fatalf("key %x value %x\nwant %s %s", key, value, wantKey, wantValue)
	}
	got, err := Decode(key, value)
	if err != nil || got != r {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	key, value := Record{Group: "g", Topic: "t"}.Encode()
	for name, kv := range map[string][2][]byte{
		"short key":      {key[:3], value},
		"trailing key":   {append(bytes.Clone(key), 0), value},
		"version 1":      {key, append([]byte{0, 1}, value[2:]...)},
		"short value":    {key, value[:10]},
		"negative label": {[]byte{0xff, 0xff}, value},
	} {
		if _, err := Decode(kv[0], kv[1]); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	k, v := Record{Group: "g", Topic: "t", Partition: 1, Upstream: 5, Downstream: 4, Metadata: "x"}.Encode()
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
