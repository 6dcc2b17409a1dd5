// Package record says whether a record on the target is the copy of a
// record on the source: the one comparison that exact resume, takeover,
// verify and the tests all use, so that what counts as a copy is decided
// once.
package record

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kgo"
)

// OriginHeader is the header a flow with provenance.header.enabled adds to
// each copy: the id of the cluster the record was first written to.
const OriginHeader = "kmirror.origin"

// Origin returns the value of r's origin header, if it has one.
func Origin(r *kgo.Record) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == OriginHeader {
			return h.Value, true
		}
	}
	return nil, false
}

// Diff names the fields a mirror keeps that differ between the source
// record src and the target record tgt: "key", "value" (a nil one is not
// an empty one), "headers" (in order) and "timestamp" (to the
// millisecond, Kafka's precision). It returns nil, without allocating,
// when tgt is a copy of src.
func Diff(src, tgt *kgo.Record) []string {
	var fields []string
	if !sameBytes(src.Key, tgt.Key) {
		fields = append(fields, "key")
	}
	if !sameBytes(src.Value, tgt.Value) {
		fields = append(fields, "value")
	}
	if !sameHeaders(src.Headers, tgt.Headers) {
		fields = append(fields, "headers")
	}
	if src.Timestamp.UnixMilli() != tgt.Timestamp.UnixMilli() {
		fields = append(fields, "timestamp")
	}
	return fields
}

// Same tells whether tgt is a copy of src.
func Same(src, tgt *kgo.Record) bool { return Diff(src, tgt) == nil }

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// sameHeaders compares the headers of a source record a and a target
// record b; b may end with the origin header a copy was stamped with.
func sameHeaders(a, b []kgo.RecordHeader) bool {
	if n := len(b); n == len(a)+1 && b[n-1].Key == OriginHeader {
		b = b[:n-1]
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !sameBytes(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
