package journal

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 12, 1, 6, 30, 0, 123_000_000, time.UTC)

func TestEncodeDecode(t *testing.T) {
	for _, e := range []Event{
		{Flow: "A->B", Subject: TopicSubject, Name: "orders", Kind: Started, Time: at, By: "kmirror run (worker kmirror-1)"},
		{Flow: "A->B", Subject: GroupSubject, Name: "app1-billing", Kind: Ready, Time: at, By: "kmirror migrate ready",
			Verdict: VerdictNotReady, Reasons: []string{"orders[0]: lag 12 s over 10 s"}},
		{Flow: "A->B", Subject: TopicSubject, Name: "orders", Kind: Verified, Time: at, By: "kmirror verify",
			Verdict: VerdictIdentical, Counts: map[string]int64{"records": 1000, "missing": 0}},
	} {
		k, v, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(k, v)
		if err != nil {
			t.Fatalf("%s %s: %v", k, v, err)
		}
		if !got.Equal(e) {
			t.Errorf("read back %+v, wrote %+v", got, e)
		}
	}
	// The documented shape.
	k, v, err := Encode(Event{Flow: "A->B", Subject: TopicSubject, Name: "orders", Kind: Verified, Time: at, By: "kmirror verify",
		Verdict: VerdictIdentical, Counts: map[string]int64{"records": 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":1,"flow":"A->B","topic":"orders","event":"verified"}`; string(k) != want {
		t.Errorf("key %s, want %s", k, want)
	}
	if want := `{"v":1,"time":"2026-12-01T06:30:00.123Z","by":"kmirror verify","verdict":"identical","counts":{"records":1000}}`; string(v) != want {
		t.Errorf("value %s, want %s", v, want)
	}
}

// TestForeignRecords: what another tool or version wrote is an error
// naming what is wrong, never an event.
func TestForeignRecords(t *testing.T) {
	good := `{"v":1,"time":"2026-12-01T06:30:00.123Z","by":"x"}`
	for _, tc := range []struct{ name, key, value, want string }{
		{"not JSON", "orders", good, "journal key"},
		{"progress record", "\x00\x01\x00\x06orders\x00\x00\x00\x00", good, "journal key"},
		{"newer version", `{"v":2,"flow":"A->B","topic":"t","event":"started"}`, good, "version 2"},
		{"unknown event", `{"v":1,"flow":"A->B","topic":"t","event":"exploded"}`, good, `unknown event "exploded"`},
		{"group event on a topic", `{"v":1,"flow":"A->B","topic":"t","event":"switched"}`, good, "about a group"},
		{"both", `{"v":1,"flow":"A->B","topic":"t","group":"g","event":"started"}`, good, "neither one topic nor one group"},
		{"unknown field", `{"v":1,"flow":"A->B","topic":"t","event":"started","x":1}`, good, "unknown field"},
		{"no time", `{"v":1,"flow":"A->B","topic":"t","event":"started"}`, `{"v":1,"by":"x"}`, "no time"},
		{"trailing data", `{"v":1,"flow":"A->B","topic":"t","event":"started"}{}`, good, "data after"},
		{"tombstone", `{"v":1,"flow":"A->B","topic":"t","event":"started"}`, "\x00nil", "journal value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := []byte(tc.value)
			if tc.value == "\x00nil" {
				v = nil
			}
			_, err := Decode([]byte(tc.key), v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// FuzzDecode: any record either fails to decode or is a valid event that
// encodes to a record reading back as the same event, under a key equal
// to the canonical one.
func FuzzDecode(f *testing.F) {
	k, v, _ := Encode(Event{Flow: "A->B", Subject: GroupSubject, Name: "g", Kind: Ready, Time: at, By: "b",
		Verdict: VerdictReady, Reasons: []string{"r"}, Counts: map[string]int64{"n": 1}})
	f.Add(k, v)
	f.Add([]byte(`{"v":1,"flow":"A->B","topic":"t","event":"verified"}`), []byte(`{"v":1,"time":"2026-12-01T06:30:00.123456789+02:00","by":"x","counts":{"records":-1}}`))
	f.Add([]byte(`{"v":1,"flow":"\u00e9","group":"\ud800","event":"switched"}`), []byte(`{"v":1,"time":"0001-01-01T00:00:00Z","by":""}`))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		e, err := Decode(k, v)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoded an invalid event: %v", err)
		}
		k2, v2, err := Encode(e)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		again, err := Decode(k2, v2)
		if err != nil {
			t.Fatalf("an encoded event does not decode: %v\n%s\n%s", err, k2, v2)
		}
		if !again.Equal(e) {
			t.Fatalf("read back %+v, wrote %+v", again, e)
		}
		k3, _, _ := Encode(again)
		if !bytes.Equal(k2, k3) {
			t.Fatalf("the key is not canonical: %s then %s", k2, k3)
		}
	})
}
