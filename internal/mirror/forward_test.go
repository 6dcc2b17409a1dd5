package mirror

import (
	"slices"
	"testing"

	"github.com/kmirror/kmirror/internal/offsetmap"
)

// FuzzSyncRange: the MM2-format syncs due for a forwarded batch, taken at
// once, are those its records would call for one by one, as acked decides
// them for the record path.
func FuzzSyncRange(f *testing.F) {
	f.Add(int64(3), []byte{5, 1, 0, 7, 2, 1})
	f.Fuzz(func(t *testing.T, every int64, steps []byte) {
		every = 1 + (every&0xff+0xff)%0xff
		one, all := &partition{syncEvery: every, syncedAt: -1}, &partition{syncEvery: every, syncedAt: -1}
		src, tgt := int64(100), int64(0)
		for i := 0; i+1 < len(steps); i += 2 {
			n := int64(steps[i]%40) + 1
			gap := steps[i+1]%3 == 0 // a new segment starts at the batch
			var segs []offsetmap.Segment
			if gap {
				segs = []offsetmap.Segment{{Source: src, Target: tgt}}
			}
			for k := range n {
				var s []offsetmap.Segment
				if k == 0 {
					s = segs
				}
				one.syncRange(s, src+k, tgt+k, 1)
			}
			all.syncRange(segs, src, tgt, n)
			src, tgt = src+n+1, tgt+n
		}
		if !slices.Equal(one.syncs, all.syncs) || one.syncedAt != all.syncedAt {
			t.Fatalf("every %d: one by one %v (at %d), at once %v (at %d)", every, one.syncs, one.syncedAt, all.syncs, all.syncedAt)
		}
	})
}
