package app

import (
	"fmt"
	"slices"
	"testing"

	"github.com/kmirror/kmirror/internal/status"
)

func TestMetricGroups(t *testing.T) {
	var gs []status.Group
	for i := range 10 {
		v := status.VerdictReady
		if i%3 == 2 {
			v = status.VerdictNotReady
		}
		gs = append(gs, status.Group{Group: fmt.Sprintf("g%d", i), Verdict: v})
	}
	tests := []struct {
		n    int
		want []string
	}{
		{n: -1, want: []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"}},
		{n: 0, want: []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"}}, // the default, 1000
		{n: 2, want: []string{"g2", "g5"}},
		{n: 5, want: []string{"g2", "g5", "g8", "g0", "g1"}},
		{n: 10, want: []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			var got []string
			for _, g := range metricGroups(gs, tc.n) {
				got = append(got, g.Group)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%v, want %v", got, tc.want)
			}
		})
	}
	big := make([]status.Group, 10_000)
	if n := len(metricGroups(big, 0)); n != DefaultMetricsGroups {
		t.Errorf("%d of 10 000 groups by default, want %d", n, DefaultMetricsGroups)
	}
}
