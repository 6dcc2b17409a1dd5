package checkpoint

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/kmirror/kmirror/internal/kstruct"
)

// encode is Encode for records that fit.
func encode(t testing.TB, r Record) (key, value []byte) {
	t.Helper()
	key, value, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return key, value
}

// The vectors follow MM2's Checkpoint schemas: key Struct(group STRING,
// topic STRING, partition INT32); value = header Struct(version INT16 0) +
// Struct(upstreamOffset INT64, offset INT64, metadata STRING); STRING is an
// INT16 length and UTF-8, integers are big-endian.
func TestRecordMatchesMM2Bytes(t *testing.T) {
	r := Record{Group: "app1-consumer", Topic: "app1-t1", Partition: 3, Upstream: 1000, Downstream: 998, Metadata: "m"}
	wantKey := "000d" + hex.EncodeToString([]byte("app1-consumer")) + "0007" + hex.EncodeToString([]byte("app1-t1")) + "00000003"
	wantValue := "0000" + "00000000000003e8" + "00000000000003e6" + "0001" + "6d"
	key, value := encode(t, r)
	if hex.EncodeToString(key) != wantKey || hex.EncodeToString(value) != wantValue {
		t.Fatalf("key %x value %x\nwant %s %s", key, value, wantKey, wantValue)
	}
	got, err := Decode(key, value)
	if err != nil || got != r {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	key, value := encode(t, Record{Group: "g", Topic: "t"})
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

// A group id, topic or metadata longer than a STRING holds is an error, not
// a record that decodes to another group or other metadata.
func TestEncodeRejectsLongStrings(t *testing.T) {
	long := strings.Repeat("g", 40000)
	tests := []struct {
		name, want string
		r          Record
	}{
		{"group", "checkpoint key: string too long: 40000 bytes, at most 32767", Record{Group: long, Topic: "t"}},
		{"topic", "checkpoint key: string too long: 40000 bytes, at most 32767", Record{Group: "g", Topic: long}},
		{"metadata", "checkpoint value: string too long: 40000 bytes, at most 32767", Record{Group: "g", Topic: "t", Metadata: long}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, value, err := tt.r.Encode()
			if err == nil {
				got, derr := Decode(key, value)
				t.Fatalf("encoded; decodes to a group of %d bytes, metadata of %d (%v)", len(got.Group), len(got.Metadata), derr)
			}
			if err.Error() != tt.want || !errors.Is(err, kstruct.ErrLong) || key != nil || value != nil {
				t.Fatalf("Encode = %d, %d bytes, %v; want %q", len(key), len(value), err, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	k, v := encode(f, Record{Group: "g", Topic: "t", Partition: 1, Upstream: 5, Downstream: 4, Metadata: "x"})
	f.Add(k, v)
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := Decode(key, value)
		if err != nil {
			return
		}
		// A decoded string fits a STRING, so it encodes again.
		k2, v2, err := r.Encode()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", r, err)
		}
		if !bytes.Equal(k2, key) || !bytes.Equal(v2, value) {
			t.Fatalf("round trip changed %x/%x into %x/%x", key, value, k2, v2)
		}
	})
}
