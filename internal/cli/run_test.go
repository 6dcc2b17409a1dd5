package cli

import (
	"runtime/debug"
	"testing"
)

// A worker collects at RunGCPercent unless GOGC is set, which Go's
// runtime has then applied and kmirror leaves alone.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != RunGCPercent {
		t.Errorf("GOGC unset: the GC target is %d, want %d", got, RunGCPercent)
	}
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=100: the GC target is %d, want it left at 100", got)
	}
}
