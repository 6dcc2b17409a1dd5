package migrate

import (
	"strings"
	"testing"

	"github.com/kmirror/kmirror/internal/status"
)

func TestReady(t *testing.T) {
	flow := func(name string, groups ...status.Group) status.Flow {
		return status.Flow{Name: name, Groups: groups}
	}
	ready := status.Group{Group: "g", Verdict: status.VerdictReady}
	switched := status.Group{Group: "g", Verdict: status.VerdictSwitched}
	notReady := status.Group{Group: "g", Verdict: status.VerdictNotReady, Reasons: []string{"x"}}
	tests := []struct {
		name   string
		flows  []status.Flow
		ready  bool
		reason string
	}{
		{"ready", []status.Flow{flow("a->t", ready)}, true, ""},
		{"switched counts as ready", []status.Flow{flow("a->t", switched)}, true, ""},
		{"every flow must be ready", []status.Flow{flow("a->t", ready), flow("b->t", notReady)}, false, ""},
		{"in no flow", []status.Flow{flow("a->t", status.Group{Group: "other", Verdict: status.VerdictReady})}, false, `no flow follows group "g"`},
		{"a flow that could not be read", []status.Flow{flow("a->t", ready), {Name: "b->t", Errors: []string{"cannot list groups"}}}, false, "flow b->t: cannot list groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Ready(status.Report{Flows: tt.flows}, "g")
			if v.Ready != tt.ready || !strings.Contains(strings.Join(v.Reasons, "\n"), tt.reason) {
				t.Errorf("got ready=%v reasons %q, want ready=%v and %q", v.Ready, v.Reasons, tt.ready, tt.reason)
			}
		})
	}
}
