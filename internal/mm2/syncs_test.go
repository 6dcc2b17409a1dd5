package mm2

import (
	"slices"
	"testing"
)

func syncRecord(topic string, partition int32, up, down int64) (key, value []byte) {
	return EncodeSync(Partition{topic, partition}, Sync{up, down})
}

func TestDecodeSync(t *testing.T) {
	key, value := syncRecord("orders", 2, 100, 97)
	p, s, ok, err := DecodeSync(key, value)
	if err != nil || !ok || p != (Partition{"orders", 2}) || s != (Sync{100, 97}) {
		t.Fatalf("DecodeSync = %v %v ok %v err %v", p, s, ok, err)
	}
	if _, _, ok, err := DecodeSync(key, value[:12]); ok || err == nil {
		t.Errorf("a short value: ok %v err %v, want an error", ok, err)
	}
	neg, negValue := syncRecord("orders", 0, -1, 4)
	if _, _, ok, err := DecodeSync(neg, negValue); ok || err == nil {
		t.Errorf("a negative offset: ok %v err %v, want an error", ok, err)
	}
}

func TestHistory(t *testing.T) {
	var h History
	for _, s := range []Sync{{0, 10}, {100, 110}, {200, 210}} {
		h = h.Add(s)
	}
	for _, c := range []struct {
		g    int64
		want int64
		ok   bool
	}{
		{g: 0, want: 10, ok: true},     // the sync's own record
		{g: 1, want: 11, ok: true},     // after a sync: the record after its copy
		{g: 150, want: 111, ok: true},  // repeats 150-101 records, skips none
		{g: 200, want: 210, ok: true},  // exact again
		{g: 5000, want: 211, ok: true}, // past the last sync
	} {
		if got, ok := h.Translate(c.g); got != c.want || ok != c.ok {
			t.Errorf("Translate(%d) = %d, %v, want %d, %v", c.g, got, ok, c.want, c.ok)
		}
	}
	if last, _ := h.Last(); last != (Sync{200, 210}) {
		t.Errorf("Last = %v", last)
	}

	// A restarted task copied from 150 again: what came before no longer
	// describes the copies after it.
	h = h.Add(Sync{150, 260})
	if _, ok := h.Translate(100); ok {
		t.Error("an offset below a rewind translated")
	}
	if got, _ := h.Translate(160); got != 261 {
		t.Errorf("Translate(160) after the rewind = %d, want 261", got)
	}
	// The same record copied again: the latest copy counts.
	h = h.Add(Sync{150, 300})
	if got, _ := h.Translate(150); got != 300 || len(h) != 1 {
		t.Errorf("Translate(150) = %d with %d syncs, want 300 with 1", got, len(h))
	}
	if _, ok := (History{}).Translate(3); ok {
		t.Error("an empty history translated")
	}
}

// FuzzHistory: whatever MM2 wrote, the history stays sorted and a
// translation never goes past the copy of the group's next record (no
// record skipped) when the copies are one for one.
func FuzzHistory(f *testing.F) {
	f.Add([]byte{0, 5, 3, 9, 1}, int64(4), int64(7))
	f.Fuzz(func(t *testing.T, ups []byte, shift, g int64) {
		if shift < 0 || shift > 1<<40 || g < 0 || g > 1<<40 {
			return
		}
		var h History
		for _, u := range ups {
			h = h.Add(Sync{int64(u), int64(u) + shift})
		}
		if !slices.IsSortedFunc(h, func(a, b Sync) int { return int(a.Upstream - b.Upstream) }) {
			t.Fatalf("history not sorted: %v", h)
		}
		got, ok := h.Translate(g)
		if !ok {
			if len(h) > 0 && h[0].Upstream <= g {
				t.Fatalf("Translate(%d) declined with %v", g, h)
			}
			return
		}
		if got > g+shift {
			t.Fatalf("Translate(%d) = %d skips records: the copy of %d is %d", g, got, g, g+shift)
		}
	})
}

func TestHistoryThrough(t *testing.T) {
	h := History{{Upstream: 10, Downstream: 5}, {Upstream: 20, Downstream: 15}, {Upstream: 30, Downstream: 25}}
	for _, tt := range []struct {
		upstream int64
		want     int
	}{{5, 0}, {10, 1}, {15, 1}, {20, 2}, {30, 3}, {99, 3}} {
		if got := h.Through(tt.upstream); len(got) != tt.want {
			t.Errorf("Through(%d) = %v, want the first %d", tt.upstream, got, tt.want)
		}
	}
}
