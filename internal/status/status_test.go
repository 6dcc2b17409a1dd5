package status

import (
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	tests := []struct {
		name    string
		g       Group
		lag     float64
		verdict string
		reason  string
	}{
		{"in sync", Group{Partitions: []GroupPartition{{Topic: "a", Source: 5, Translated: i(7), Target: i(7), State: StateInSync}}}, 0, VerdictReady, ""},
		{"switched", Group{ActiveOnTarget: 2}, 0, VerdictSwitched, ""},
		{"both", Group{ActiveOnTarget: 1, ActiveOnSource: 1}, 0, VerdictNotReady, "active on both clusters"},
		{"source active", Group{ActiveOnSource: 3, Partitions: []GroupPartition{{Topic: "a", State: StateInSync, Translated: i(1), Target: i(1)}}}, 0, VerdictNotReady, "3 consumers are still active on the source"},
		{"nothing", Group{}, 0, VerdictNotReady, "no committed offsets on a mirrored topic"},
		{"not mirrored", Group{Partitions: []GroupPartition{{Topic: "a", Partition: 2, Source: 9, State: StateNotMirrored}}}, 0, VerdictNotReady, "a[2]: committed offset 9 is not mirrored yet"},
		{"expired", Group{Partitions: []GroupPartition{{Topic: "a", Source: 1, State: StateExpired}}}, 0, VerdictNotReady, "deleted by retention"},
		{"pending", Group{Partitions: []GroupPartition{{Topic: "a", Source: 5, Translated: i(7), State: StatePending}}}, 0, VerdictNotReady, "translated to 7, the target has nothing committed"},
		{"ahead", Group{Partitions: []GroupPartition{{Topic: "a", Source: 5, Translated: i(7), Target: i(9), State: StateTargetAhead}}}, 0, VerdictNotReady, "would skip 2 records"},
		{"lagging", Group{Partitions: []GroupPartition{{Topic: "a", Translated: i(1), Target: i(1), State: StateInSync}}}, 11, VerdictNotReady, "a: replication lag 11.0s is above 10s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g
			judge(&g, map[string]float64{"a": tt.lag}, 10*time.Second)
			if g.Verdict != tt.verdict {
				t.Errorf("verdict %q, want %q (reasons %q)", g.Verdict, tt.verdict, g.Reasons)
			}
			got := strings.Join(g.Reasons, "\n")
			if tt.reason == "" && got != "" || !strings.Contains(got, tt.reason) {
				t.Errorf("reasons %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestPickSamples(t *testing.T) {
	var lagging []lagSample
	for p := range int32(10) {
		lagging = append(lagging, lagSample{"a", p, 100, int64(p)})
	}
	lagging = append(lagging, lagSample{"b", 0, 5, 1}, lagSample{"c", 3, 7, 9})
	got := pickSamples(lagging, 5)
	// Every topic once, most lagging first, then a's next most lagging.
	want := map[string][]int32{"a": {9, 8, 7}, "b": {0}, "c": {3}}
	for topic, ps := range want {
		if len(got[topic]) != len(ps) {
			t.Errorf("%s: sampled %v, want %v", topic, got[topic], ps)
		}
		for _, p := range ps {
			if _, ok := got[topic][p]; !ok {
				t.Errorf("%s[%d] not sampled: %v", topic, p, got[topic])
			}
		}
	}
	if n := len(pickSamples(lagging, 100)["a"]); n != 10 {
		t.Errorf("a large enough budget samples all 10 partitions of a, got %d", n)
	}
}
