package main

import (
	"slices"
	"testing"
)

// -set overrides a seed setting of the same key rather than giving it
// twice, which the configuration refuses.
func TestOverlay(t *testing.T) {
	got := overlay([]string{"producer.linger.ms=1500", "producer.batch.size=50000"}, []string{"producer.linger.ms=0", "tasks.max=4"})
	want := []string{"producer.batch.size=50000", "producer.linger.ms=0", "tasks.max=4"}
	if !slices.Equal(got, want) {
		t.Errorf("overlay = %v, want %v", got, want)
	}
}
