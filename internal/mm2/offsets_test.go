package mm2

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name, key, value string
		null             bool
		want             Partition
		next             int64
		reset, ok, err   bool
	}{
		{name: "dedicated mode", key: `["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]`, value: `{"offset":99}`,
			want: Partition{"orders", 3}, next: 100, ok: true},
		{name: "Strimzi's connector name", key: `["A->B.MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"app1-t1"}]`, value: `{"offset":0}`,
			want: Partition{"app1-t1", 0}, next: 1, ok: true},
		{name: "reset", key: `["MirrorSourceConnector",{"cluster":"A","partition":1,"topic":"orders"}]`, null: true,
			want: Partition{"orders", 1}, reset: true, ok: true},
		{name: "another source cluster", key: `["MirrorSourceConnector",{"cluster":"C","partition":0,"topic":"orders"}]`, value: `{"offset":5}`},
		{name: "the heartbeat connector", key: `["MirrorHeartbeatConnector",{"sourceClusterAlias":"A","targetClusterAlias":"B"}]`, value: `{"offset":0}`},
		{name: "another connector", key: `["jdbc-source",{"table":"t"}]`, value: `{"offset":7}`},
		{name: "not JSON", key: `orders-0`, value: `{"offset":1}`, err: true},
		{name: "no partition", key: `["MirrorSourceConnector",{"cluster":"A","topic":"orders"}]`, value: `{"offset":1}`, err: true},
		{name: "negative partition", key: `["MirrorSourceConnector",{"cluster":"A","partition":-1,"topic":"orders"}]`, value: `{"offset":1}`, err: true},
		{name: "no offset", key: `["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]`, value: `{}`, err: true},
		{name: "negative offset", key: `["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]`, value: `{"offset":-2}`, err: true},
		{name: "the last offset there is", key: `["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]`, value: `{"offset":9223372036854775807}`, err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			value := []byte(c.value)
			if c.null {
				value = nil
			}
			p, next, reset, ok, err := Decode([]byte(c.key), value, "A")
			if (err != nil) != c.err || ok != c.ok || reset != c.reset {
				t.Fatalf("Decode = ok %v reset %v err %v, want ok %v reset %v err %v", ok, reset, err, c.ok, c.reset, c.err)
			}
			if ok && (p != c.want || next != c.next) {
				t.Errorf("Decode = %v next %d, want %v next %d", p, next, c.want, c.next)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	rec := func(topic string, p int32, value string) *kgo.Record {
		r := &kgo.Record{Topic: "mm2-offsets.A.internal", Key: fmt.Appendf(nil, `["MirrorSourceConnector",{"cluster":"A","partition":%d,"topic":%q}]`, p, topic)}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	got, err := Positions([]*kgo.Record{
		rec("orders", 0, `{"offset":10}`),
		rec("orders", 1, `{"offset":4}`),
		rec("orders", 0, `{"offset":25}`), // a later commit
		rec("orders", 1, ""),              // reset
		rec("refunds", 0, `{"offset":0}`),
		{Topic: "mm2-offsets.A.internal", Key: []byte("junk"), Value: []byte("{}")},
	}, "A")
	want := map[Partition]int64{{"orders", 0}: 26, {"refunds", 0}: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Positions = %v, want %v", got, want)
	}
	if err == nil {
		t.Error("an unreadable record was not reported")
	}
}

// FuzzDecode: whatever the bytes, Decode does not panic, and a position it
// returns is one MM2 can resume at.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]`), []byte(`{"offset":99}`))
	f.Add([]byte(`["A->B.MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"t"}]`), []byte(`{"offset":0}`))
	f.Add([]byte(`["MirrorHeartbeatConnector",{}]`), []byte(`null`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		p, next, reset, ok, err := Decode(key, value, "A")
		if err != nil && ok {
			t.Fatalf("ok with an error: %v", err)
		}
		if !ok {
			return
		}
		if p.Partition < 0 {
			t.Fatalf("negative partition %d", p.Partition)
		}
		if !reset && next < 1 {
			t.Fatalf("next %d: a committed offset is at least 0, so MM2 resumes at 1 or later", next)
		}
	})
}

// TestEncode checks the bytes of the records hand-back writes against
// Connect's own (as MM2 writes them, see TestDecode), and that Decode
// reads them back to the same position.
func TestEncode(t *testing.T) {
	for _, c := range []struct {
		name              string
		strimzi           bool
		offsetsTopic      string
		wantTopic, keyStr string
	}{
		{name: "dedicated mode", wantTopic: "mm2-offsets.A.internal",
			keyStr: `["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]`},
		{name: "Strimzi", strimzi: true, wantTopic: "mirrormaker2-cluster-offsets",
			keyStr: `["A->B.MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]`},
		{name: "offset.storage.topic set", offsetsTopic: "connect-offsets", wantTopic: "connect-offsets",
			keyStr: `["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := LayoutOf("A", "B", c.offsetsTopic, c.strimzi)
			if l.OffsetsTopic != c.wantTopic {
				t.Errorf("offsets topic %q, want %q", l.OffsetsTopic, c.wantTopic)
			}
			p := Partition{"orders", 3}
			k, v, err := l.Encode("A", p, 100)
			if err != nil {
				t.Fatal(err)
			}
			if string(k) != c.keyStr || string(v) != `{"offset":99}` {
				t.Errorf("record %s = %s, want %s = {\"offset\":99}", k, v, c.keyStr)
			}
			got, next, reset, ok, err := Decode(k, v, "A")
			if err != nil || !ok || reset || got != p || next != 100 {
				t.Errorf("Decode: %v %d reset=%v ok=%v err=%v", got, next, reset, ok, err)
			}
		})
	}
}
