package migrate

import (
	"fmt"

	"github.com/kmirror/kmirror/internal/status"
)

// Verdict is whether a group's consumers can be switched to the target, in
// every flow that follows the group.
type Verdict struct {
	Group string `json:"group"`
	// Ready is true when every flow's verdict is ready (or switched).
	Ready bool          `json:"ready"`
	Flows []GroupInFlow `json:"flows"`
	// Reasons holds why the group is in no flow at all.
	Reasons []string `json:"reasons"`
}

// GroupInFlow is a group's state in one flow.
type GroupInFlow struct {
	Flow string `json:"flow"`
	status.Group
}

// Ready judges group from a status report.
func Ready(r status.Report, group string) Verdict {
	v := Verdict{Group: group, Flows: []GroupInFlow{}, Reasons: []string{}}
	for _, f := range r.Flows {
		if f.Direction == status.DirectionBack {
			continue // the way back: not where the group switches to
		}
		for _, e := range f.Errors {
			v.Reasons = append(v.Reasons, fmt.Sprintf("flow %s: %s", f.Name, e))
		}
		for _, g := range f.Groups {
			if g.Group == group {
				v.Flows = append(v.Flows, GroupInFlow{Flow: f.Name, Group: g})
				// Nothing syncs the group's offsets, nor copies what its
				// producers still write on the source.
				if f.State == status.StateStopped {
					v.Reasons = append(v.Reasons, noWorker(f.Source, f.Target))
				}
			}
		}
	}
	if len(v.Flows) == 0 && len(v.Reasons) == 0 {
		v.Reasons = append(v.Reasons, fmt.Sprintf("no flow follows group %q: it has no committed offsets on the source, or groupsPattern/groups.exclude leave it out", group))
	}
	v.Ready = len(v.Flows) > 0 && len(v.Reasons) == 0
	for _, g := range v.Flows {
		if g.Verdict == status.VerdictNotReady {
			v.Ready = false
		}
	}
	return v
}
