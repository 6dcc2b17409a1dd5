package progress

import (
	"context"
	"testing"

	"github.com/kmirror/kmirror/internal/offsetmap"
)

// pairedMaps builds the maps of a migration there and back between A and
// B in exactly-once mode: A's producers write a0…a9, which A->B copies;
// they move to B (b0…b4, which B->A copies), then back to A (a10…a14).
// Transaction markers give the two clusters different offsets:
//
//	A: a0…a9 at 0…9, b0'…b4' at 10…14, marker 15, a10…a14 at 16…20
//	B: a0'…a9' at 0…9, marker 10, b0…b4 at 11…15, a10'…a14' at 16…20, marker 21
//
// It returns the maps (A->B, B->A) and every record's pair of offsets.
func pairedMaps(t *testing.T) (out, in *offsetmap.Map, pairs [][2]int64) {
	t.Helper()
	out, in = offsetmap.New(0, 0), offsetmap.New(0, 0)
	observe := func(m *offsetmap.Map, src, tgt int64) {
		if _, err := m.Observe(src, tgt); err != nil {
			t.Fatal(err)
		}
	}
	for i := range int64(10) {
		observe(out, i, i)
		pairs = append(pairs, [2]int64{i, i})
	}
	// B->A reads B: A->B's copies, then the marker, then B's records.
	in.Advance(11)
	in.SkipTarget(10) // A holds a0…a9, not B->A's
	for i := range int64(5) {
		observe(in, 11+i, 10+i)
		pairs = append(pairs, [2]int64{10 + i, 11 + i})
	}
	// A->B reads A: B->A's copies and their marker, then A's records.
	out.Advance(16)
	out.SkipTarget(16) // B's marker and records
	for i := range int64(5) {
		observe(out, 16+i, 16+i)
		pairs = append(pairs, [2]int64{16 + i, 16 + i})
	}
	in.Advance(22)     // A->B's copies and the marker
	in.SkipTarget(21)  // A's records
	out.SkipTarget(22) // the marker
	return out, in, pairs
}

// A group that read A up to g resumes on B at exactly the first record it
// has not read, of either origin, and back: every record falls on the same
// side of the offset on both clusters.
func TestPairedTranslationIsExactOnAMigration(t *testing.T) {
	out, in, pairs := pairedMaps(t)
	p := Partition{Topic: "t", Partition: 0}
	v := WithPair(func(context.Context) (Snapshot, error) { return Snapshot{p: {Map: out}}, nil },
		func(context.Context, Partition, int64) (*offsetmap.Map, error) { return in, nil })
	for g := int64(0); g <= 21; g++ {
		tr, ok, err := v.Translate(t.Context(), p, g)
		if err != nil || !ok || tr.Result != offsetmap.Exact {
			t.Fatalf("Translate(%d) = %+v %v %v", g, tr, ok, err)
		}
		for _, pr := range pairs {
			if (pr[0] < g) != (pr[1] < tr.Offset) {
				t.Fatalf("A offset %d translates to B offset %d, but the record at A %d is at B %d", g, tr.Offset, pr[0], pr[1])
			}
		}
	}
	for b := int64(0); b <= 22; b++ {
		a, res := BackWithPair(out, in, b)
		if res != offsetmap.Exact {
			t.Fatalf("BackWithPair(%d) = %v", b, res)
		}
		for _, pr := range pairs {
			if (pr[1] < b) != (pr[0] < a) {
				t.Fatalf("B offset %d translates back to A offset %d, but the record at B %d is at A %d", b, a, pr[1], pr[0])
			}
		}
	}
	// Without the map back, B's records would be skipped: a group at A's
	// end would resume past b0…b4 only because A->B's map moved past them.
	if a, _ := out.Back(11); a != 16 {
		t.Fatalf("A->B's map alone translates B offset 11 back to %d; the test expects it to skip b0…b4 (16)", a)
	}
}

// When one flow has not read its source as far as the other wrote, the
// translation waits rather than make the group read records again: B->A
// copied b0…b4 to A at 10…14, and A->B has not read past A's offset 10.
func TestPairedTranslationWaitsForALaggingFlow(t *testing.T) {
	out, in := offsetmap.New(0, 0), offsetmap.New(0, 0)
	for i := range int64(10) {
		if _, err := out.Observe(i, i); err != nil {
			t.Fatal(err)
		}
	}
	out.SkipTarget(16) // A->B's last commit saw B's end
	in.Advance(11)
	in.SkipTarget(10)
	for i := range int64(5) {
		if _, err := in.Observe(11+i, 10+i); err != nil {
			t.Fatal(err)
		}
	}
	// A group that read b0…b2 on B (offsets 11…13) resumes on A at b3's
	// copy, 13, once A->B has read past the copies.
	if a, res := BackWithPair(out, in, 14); res != offsetmap.NotYetMirrored {
		t.Fatalf("BackWithPair(14) = %d %v with A->B behind the copies, want not yet mirrored", a, res)
	}
	out.Advance(15)
	if a, res := BackWithPair(out, in, 14); res != offsetmap.Exact || a != 13 {
		t.Fatalf("BackWithPair(14) = %d %v, want 13", a, res)
	}
}
