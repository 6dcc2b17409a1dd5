package offsetmap

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// copied is what a copy did: source offsets of copied records, the target
// offsets they got, and the mirrored end.
type copied struct {
	start  int64
	source []int64
	target []int64
	end    Segment
	// topic is what a compacted offset-syncs topic holds: the latest
	// record for each segment start.
	topic map[int64]Segment
}

// reference is the definition of translation: the target offset of the
// first copied record at or after g, or the target end.
func (c copied) reference(g int64) (int64, Result) {
	if g < c.start {
		return 0, Expired
	}
	if g > c.end.Source {
		return 0, NotYetMirrored
	}
	for i, s := range c.source {
		if s >= g {
			return c.target[i], Exact
		}
	}
	return c.end.Target, Exact
}

// backReference is the definition of translating back: the source offset
// of the first copied record whose target offset is at least t, or the
// mirrored end.
func (c copied) backReference(t int64) (int64, Result) {
	if t > c.end.Target {
		return 0, NotYetMirrored
	}
	for i, tg := range c.target {
		if tg < t {
			continue
		}
		if c.source[i] < c.start {
			return 0, Expired // the group has not read it, and the source lost it
		}
		return c.source[i], Exact
	}
	return c.end.Source, Exact
}

// simulate copies a source log of n offsets from start, where each offset
// holds a record with probability keep (the rest are markers, aborted or
// compacted records), into a target whose offsets jump with probability
// jump (another writer, a restart). It feeds the map as the copy path does.
func simulate(rng *rand.Rand, start, n int64, keep, jump float64) (copied, *Map) {
	t0 := rng.Int64N(1000)
	p := New(start, t0)
	c := copied{start: start, topic: map[int64]Segment{}}
	t := t0
	for s := start; s < start+n; s++ {
		if rng.Float64() >= keep {
			continue
		}
		if rng.Float64() < jump {
			t += 1 + rng.Int64N(5)
			// Half the time the copy path learns of the jump before the
			// next copy is acknowledged: records found on the target
			// past the mirrored end that are no copies (SkipTarget).
			if rng.IntN(2) == 0 {
				for _, sg := range p.SkipTarget(t) {
					c.topic[sg.Source] = sg
				}
			}
		}
		segs, err := p.Observe(s, t)
		if err != nil {
			panic(err)
		}
		for _, sg := range segs {
			c.topic[sg.Source] = sg
		}
		c.source, c.target = append(c.source, s), append(c.target, t)
		t++
	}
	p.Advance(start + n) // the copy position passed trailing markers
	// Foreign records after the last copy.
	if rng.Float64() < jump {
		t += 1 + rng.Int64N(5)
		for _, sg := range p.SkipTarget(t) {
			c.topic[sg.Source] = sg
		}
	}
	c.end = Segment{Source: start + n, Target: t}
	return c, p
}

func checkAll(t *testing.T, c copied, p *Map) {
	t.Helper()
	prev := int64(-1)
	for g := c.start - 3; g <= c.end.Source+3; g++ {
		wantS, wantOK := int64(0), false
		for _, x := range c.source {
			if x >= g && x >= c.start {
				wantS, wantOK = x, true
				break
			}
		}
		if got, ok := p.FirstSource(g); g >= c.start && (got != wantS || ok != wantOK) {
			t.Fatalf("FirstSource(%d) = %d %v, want %d %v", g, got, ok, wantS, wantOK)
		}
		got, res := p.Translate(g)
		want, wres := c.reference(g)
		if got != want || res != wres {
			t.Fatalf("Translate(%d) = %d %v, want %d %v (segments %v, end %v)", g, got, res, want, wres, p.Segments(), p.End())
		}
		if res == Exact {
			if got < prev {
				t.Fatalf("not monotone at %d: %d after %d", g, got, prev)
			}
			if got > p.End().Target {
				t.Fatalf("Translate(%d) = %d, beyond the first unread target offset %d", g, got, p.End().Target)
			}
			prev = got
		}
	}
	first := c.end.Target
	if len(c.target) > 0 {
		first = c.target[0]
	}
	kept := c.end.Target
	for i, x := range c.target {
		if c.source[i] >= c.start {
			kept = x
			break
		}
	}
	for tg := first - 3; tg <= c.end.Target+3; tg++ {
		got, res := p.Back(tg)
		want, wres := c.backReference(tg)
		if got != want || res != wres {
			t.Fatalf("Back(%d) = %d %v, want %d %v (segments %v, end %v)", tg, got, res, want, wres, p.Segments(), p.End())
		}
		// The copies of records below the start may be forgotten.
		if i := slices.Index(c.target, tg); i < 0 && p.IsCopy(tg) || i >= 0 && c.source[i] >= c.start && !p.IsCopy(tg) {
			t.Fatalf("IsCopy(%d) = %v, want %v", tg, i < 0, i >= 0)
		}
		wantT, wantOK := int64(0), false
		for i, x := range c.target {
			if x >= tg && c.source[i] >= c.start {
				wantT, wantOK = x, true
				break
			}
		}
		// Below the first copy of a record at or past the start, the map
		// may still know copies of records the source deleted.
		if got, ok := p.FirstTarget(tg); tg >= kept && (got != wantT || ok != wantOK) {
			t.Fatalf("FirstTarget(%d) = %d %v, want %d %v", tg, got, ok, wantT, wantOK)
		}
		if res != Exact {
			continue
		}
		// A group that read the target below tg read exactly the copies
		// of the source records below got.
		for i := range c.source {
			if c.source[i] >= c.start && (c.target[i] < tg) != (c.source[i] < got) {
				t.Fatalf("Back(%d) = %d: the copy %d→%d falls on different sides", tg, got, c.source[i], c.target[i])
			}
		}
	}
}

func TestTranslateEveryOffset(t *testing.T) {
	tests := []struct {
		name       string
		keep, jump float64
	}{
		{"contiguous", 1, 0},
		{"compacted", 0.3, 0},
		{"transactional", 0.9, 0},
		{"target jumps", 1, 0.05},
		{"sparse and jumpy", 0.2, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for range 50 {
				c, p := simulate(rng, rng.Int64N(100), 1+rng.Int64N(500), tt.keep, tt.jump)
				checkAll(t, c, p)
			}
		})
	}
}

// Records on the target past the mirrored end that are no copies move the
// next target offset: the mirrored end translates past them, the segment
// that was open is closed with its count, and what is persisted restores
// the same map.
func TestSkipTarget(t *testing.T) {
	p := New(10, 100)
	for i := range int64(3) {
		if _, err := p.Observe(10+i, 100+i); err != nil {
			t.Fatal(err)
		}
	}
	closed := p.SkipTarget(105) // foreign records at 103 and 104
	if len(closed) != 1 || closed[0] != (Segment{Source: 10, Target: 100, Count: 3}) {
		t.Fatalf("SkipTarget closed %v, want the open segment with its 3 records", closed)
	}
	if got, res := p.Translate(13); got != 105 || res != Exact {
		t.Errorf("the mirrored end translates to %d %v, want 105", got, res)
	}
	if got, _ := p.Translate(12); got != 102 {
		t.Errorf("the last copy translates to %d, want 102", got)
	}
	if closed := p.SkipTarget(104); closed != nil || p.End().Target != 105 {
		t.Errorf("SkipTarget backwards: closed %v, end %v", closed, p.End())
	}
	if _, err := p.Observe(13, 105); err != nil {
		t.Fatal(err)
	}
	r := Restore(p.Start(), p.End(), p.Segments())
	for g := int64(10); g <= 14; g++ {
		a, _ := p.Translate(g)
		b, _ := r.Translate(g)
		if a != b {
			t.Errorf("restored map translates %d to %d, the map to %d", g, b, a)
		}
	}
}

func TestSegmentsOnlyWhereTheDeltaChanges(t *testing.T) {
	p := New(0, 0)
	var persisted []Segment
	for _, r := range [][2]int64{{0, 0}, {1, 1}, {2, 2}, {5, 3}, {6, 4}, {9, 5}} {
		segs, err := p.Observe(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		persisted = append(persisted, segs...)
	}
	// Each new segment closes the previous one, which is persisted again
	// with its count.
	want := []Segment{{0, 0, 0}, {0, 0, 3}, {5, 3, 0}, {5, 3, 2}, {9, 5, 0}}
	if len(persisted) != len(want) {
		t.Fatalf("segments %v, want %v", persisted, want)
	}
	for i := range want {
		if persisted[i] != want[i] {
			t.Fatalf("segments %v, want %v", persisted, want)
		}
	}
	if _, err := p.Observe(9, 6); err == nil {
		t.Error("a record behind the end was accepted")
	}
}

func TestRestoreDropsSegmentsPastTheEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		c, _ := simulate(rng, 10, 300, 0.5, 0.1)
		// A crash lost the end: persisted segments reach past the
		// persisted end, which is an earlier point of the copy.
		cut := rng.IntN(len(c.source) + 1)
		short := copied{start: c.start, source: c.source[:cut], target: c.target[:cut], end: Segment{Source: c.start, Target: c.target[0]}}
		if cut > 0 {
			short.end = Segment{Source: c.source[cut-1] + 1, Target: c.target[cut-1] + 1}
		}
		var persisted []Segment
		for _, sg := range c.topic {
			persisted = append(persisted, sg)
		}
		r := Restore(c.start, short.end, persisted)
		checkAll(t, short, r)
		// Copying resumes from the restored end.
		for i := cut; i < len(c.source); i++ {
			if _, err := r.Observe(c.source[i], c.target[i]); err != nil {
				t.Fatal(err)
			}
		}
		r.Advance(c.end.Source)
		r.SkipTarget(c.end.Target) // foreign records after the last copy
		checkAll(t, c, r)
	}
}

func TestTruncate(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c, p := simulate(rng, 0, 1000, 0.5, 0.1)
	before := len(p.Segments())
	dropped := p.Truncate(400)
	if len(dropped) == 0 || len(p.Segments())+len(dropped) != before {
		t.Fatalf("dropped %d of %d segments, %d left", len(dropped), before, len(p.Segments()))
	}
	c.start = 400
	checkAll(t, c, p)
}

func FuzzTranslate(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint16(300), uint8(128), uint8(10), uint16(0))
	f.Add(uint64(5), uint64(6), uint16(1000), uint8(128), uint8(25), uint16(400))
	f.Fuzz(func(t *testing.T, s1, s2 uint64, n uint16, keep, jump uint8, cut uint16) {
		rng := rand.New(rand.NewPCG(s1, s2))
		c, p := simulate(rng, int64(s1%1000), int64(n%2000)+1, float64(keep)/255, float64(jump)/255)
		// The source's retention deleted the first cut offsets.
		if cut > 0 {
			c.start = min(c.start+int64(cut), c.end.Source)
			p.Truncate(c.start)
		}
		checkAll(t, c, p)
	})
}

// FuzzObserveRange: a range observed at once makes the same map as its
// records observed one by one.
func FuzzObserveRange(f *testing.F) {
	f.Add([]byte{3, 0, 5, 2, 1, 1, 4, 0, 0})
	f.Fuzz(func(t *testing.T, steps []byte) {
		one, many := New(10, 100), New(10, 100)
		src, tgt := int64(10), int64(100)
		for i := 0; i+2 < len(steps); i += 3 {
			n := int64(steps[i] % 8)
			src += int64(steps[i+1] % 3) // a gap on the source: control records
			tgt += int64(steps[i+2] % 3) // a gap on the target: records not ours
			var a, b []Segment
			for k := range n {
				segs, err := one.Observe(src+k, tgt+k)
				if err != nil {
					t.Fatal(err)
				}
				a = append(a, segs...)
			}
			b, err := many.ObserveRange(src, tgt, n)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a, b) || one.End() != many.End() || !slices.Equal(one.Segments(), many.Segments()) {
				t.Fatalf("step %d: one by one %v end %v segments %v; at once %v end %v segments %v",
					i/3, a, one.End(), one.Segments(), b, many.End(), many.Segments())
			}
			src, tgt = src+n, tgt+n
		}
	})
}
