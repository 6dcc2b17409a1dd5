package progress

import (
	"bytes"
	"testing"

	"github.com/kmirror/kmirror/internal/offsetmap"
)

func TestMarkRoundTrip(t *testing.T) {
	p := Partition{Topic: "app1-orders", Partition: 7}
	m := Mark{ClusterID: "J8qZ3bV5S1WcXyJ0bLrN9w", TopicID: [16]byte{1, 2, 3, 15: 9}, Start: 3, End: offsetmap.Segment{Source: 1 << 40, Target: 1 << 39}}
	k, v := EncodeMark(p, m)
	gp, gm, err := DecodeMark(k, v)
	if err != nil || gp != p || gm != m {
		t.Fatalf("DecodeMark = %+v %+v %v, want %+v %+v", gp, gm, err, p, m)
	}
	if kp, err := DecodeMarkKey(k); err != nil || kp != p {
		t.Errorf("DecodeMarkKey = %+v %v", kp, err)
	}
}

func TestDecodeMarkRejects(t *testing.T) {
	p := Partition{Topic: "t", Partition: 0}
	good := Mark{ClusterID: "c", Start: 5, End: offsetmap.Segment{Source: 9, Target: 4}}
	k, v := EncodeMark(p, good)
	for _, c := range []struct {
		name       string
		key, value []byte
	}{
		{"unknown key version", append([]byte{0, 2}, k[2:]...), v},
		{"unknown value version", k, append([]byte{0, 2}, v[2:]...)},
		{"short key", k[:len(k)-1], v},
		{"short value", k, v[:len(v)-1]},
		{"trailing bytes", k, append(bytes.Clone(v), 0)},
		{"empty topic", func() []byte { k, _ := EncodeMark(Partition{Partition: 1}, good); return k }(), v},
		{"negative partition", func() []byte { k, _ := EncodeMark(Partition{Topic: "t", Partition: -1}, good); return k }(), v},
		{"end before start", k, func() []byte {
			_, v := EncodeMark(p, Mark{ClusterID: "c", Start: 10, End: offsetmap.Segment{Source: 9, Target: 4}})
			return v
		}()},
		{"negative target", k, func() []byte {
			_, v := EncodeMark(p, Mark{ClusterID: "c", Start: 1, End: offsetmap.Segment{Source: 9, Target: -1}})
			return v
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := DecodeMark(c.key, c.value); err == nil {
				t.Errorf("DecodeMark accepted %x / %x", c.key, c.value)
			}
		})
	}
}

// FuzzDecodeMark: what decodes is a valid mark, and encodes back to the
// same bytes.
func FuzzDecodeMark(f *testing.F) {
	k, v := EncodeMark(Partition{Topic: "t", Partition: 3}, Mark{ClusterID: "c", Start: 1, End: offsetmap.Segment{Source: 2, Target: 3}})
	f.Add(k, v)
	f.Add(k[:3], v[:5])
	f.Fuzz(func(t *testing.T, key, value []byte) {
		p, m, err := DecodeMark(key, value)
		if err != nil {
			return
		}
		if p.Topic == "" || p.Partition < 0 || m.Start < 0 || m.End.Source < m.Start || m.End.Target < 0 {
			t.Fatalf("decoded an invalid mark %+v %+v", p, m)
		}
		k2, v2 := EncodeMark(p, m)
		if !bytes.Equal(k2, key) || !bytes.Equal(v2, value) {
			t.Fatalf("round trip changed the record: %x/%x → %x/%x", key, value, k2, v2)
		}
	})
}
