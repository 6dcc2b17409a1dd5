package journal

import (
	"slices"
	"testing"
)

func TestCountNames(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]int64
		want   []string
	}{
		{"none", nil, []string{}},
		{"verify", map[string]int64{"partitions": 1, "notMirrored": 0, "recreated": 0, "compared": 4000, "identical": 4000, "altered": 0, "missing": 0, "extra": 0},
			[]string{"compared", "identical", "missing", "extra", "altered", "notMirrored", "recreated", "partitions"}},
		{"caught up", map[string]int64{"copied": 4000}, []string{"copied"}},
		{"unknown names last, alphabetically", map[string]int64{"zeta": 1, "alpha": 2, "missing": 3}, []string{"missing", "alpha", "zeta"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CountNames(tc.counts); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
