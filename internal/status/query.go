package status

import (
	"slices"
	"strings"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// Query selects part of a report, so that an answer about a flow of ten
// thousand groups need not carry them all: `kmirror status --topic` and
// `--group`, and /api/v1/status's parameters (docs/operations.md,
// "Status at scale"). The zero Query selects everything.
//
// Topics and Lagging concern topics, Groups and Verdicts groups: a query
// that names only one kind answers with that kind alone. Search and
// Phases concern both.
type Query struct {
	// Topics and Groups are exact names (source topics, groups).
	Topics, Groups []string
	// Search keeps the topics and groups whose name contains it, in any
	// case.
	Search string
	// Phases keeps the topics and groups at one of these migration phases
	// (journal.Phase; "mirroring" for one without a recorded step).
	Phases []string
	// Verdicts keeps the groups with one of these verdicts.
	Verdicts []string
	// Lagging keeps the topics with source offsets not yet copied.
	Lagging bool
	// Offset and Limit page each flow's topics and groups (each list on
	// its own), in the report's order; Limit 0 is no limit.
	Offset, Limit int
}

// IsZero tells whether q selects everything: its answer is the report
// as it is.
func (q Query) IsZero() bool {
	return len(q.Topics) == 0 && len(q.Groups) == 0 && q.Search == "" && len(q.Phases) == 0 &&
		len(q.Verdicts) == 0 && !q.Lagging && q.Offset == 0 && q.Limit == 0
}

// PageInfo says what part of a flow's topics and groups a queried answer
// holds: Topics and Groups count those that matched before paging.
type PageInfo struct {
	Offset int `json:"offset"`
	Limit  int `json:"limit"` // 0: no limit
	Topics int `json:"topics"`
	Groups int `json:"groups"`
}

// PhaseOf is the migration phase of a topic or group with step s:
// "mirroring" when the journal recorded none.
func PhaseOf(s *Step) string {
	if s == nil || s.Phase == "" {
		return string(journal.PhaseMirroring)
	}
	return s.Phase
}

// Apply answers q from r. The zero Query answers r itself; any other
// answers, per flow, the topics and groups that match (paged), the
// blocked topics and stalled partitions of the topics it may hold, each
// worker's holds of the topics it holds, and a Page that counts what
// matched. r is not modified.
func (q Query) Apply(r Report) Report {
	if q.IsZero() {
		return r
	}
	out := Report{Time: r.Time, Flows: make([]Flow, len(r.Flows))}
	for i, f := range r.Flows {
		out.Flows[i] = q.flow(f)
	}
	return out
}

func (q Query) flow(f Flow) Flow {
	topicKind := len(q.Topics) > 0 || q.Lagging
	groupKind := len(q.Groups) > 0 || len(q.Verdicts) > 0
	wantTopics := topicKind || !groupKind
	wantGroups := groupKind || !topicKind

	topics := []Topic{}
	if wantTopics {
		for _, t := range f.Topics {
			if q.topic(t) {
				topics = append(topics, t)
			}
		}
	}
	groups := []Group{}
	if wantGroups {
		for _, g := range f.Groups {
			if q.group(g) {
				groups = append(groups, g)
			}
		}
	}
	f.Page = &PageInfo{Offset: q.Offset, Limit: q.Limit, Topics: len(topics), Groups: len(groups)}
	f.Topics, f.Groups = page(topics, q.Offset, q.Limit), page(groups, q.Offset, q.Limit)

	// What is said per topic elsewhere in the flow follows the topics
	// answered, so that a page of 50 topics does not carry the holds of
	// 60 000 partitions.
	held := map[string]bool{}
	for _, t := range f.Topics {
		held[t.Topic] = true
	}
	f.Blocked = slices.DeleteFunc(slices.Clone(f.Blocked), func(b discover.Blocked) bool {
		return !wantTopics || !q.names(b.Topic, q.Topics) || len(q.Phases) > 0 || q.Lagging
	})
	if f.Blocked == nil {
		f.Blocked = []discover.Blocked{}
	}
	if f.Stalled != nil {
		f.Stalled = slices.DeleteFunc(slices.Clone(f.Stalled), func(p string) bool {
			if i := strings.LastIndexByte(p, '['); i >= 0 {
				p = p[:i] // "topic[3]"
			}
			return !held[p]
		})
	}
	if f.Workers != nil {
		workers := make([]workgroup.Worker, len(f.Workers))
		for i, w := range f.Workers {
			w.Holds = workgroup.Partitions{}
			for t, ps := range f.Workers[i].Holds {
				if held[t] || t == workgroup.Slots {
					w.Holds[t] = ps
				}
			}
			workers[i] = w
		}
		f.Workers = workers
	}
	return f
}

// names tells whether name passes the exact names (none: any) and the
// search.
func (q Query) names(name string, exact []string) bool {
	if len(exact) > 0 && !slices.Contains(exact, name) {
		return false
	}
	return q.Search == "" || strings.Contains(strings.ToLower(name), strings.ToLower(q.Search))
}

func (q Query) topic(t Topic) bool {
	if !q.names(t.Topic, q.Topics) {
		return false
	}
	if len(q.Phases) > 0 && !slices.Contains(q.Phases, PhaseOf(t.Step)) {
		return false
	}
	return !q.Lagging || t.LagRecords > 0
}

func (q Query) group(g Group) bool {
	if !q.names(g.Group, q.Groups) {
		return false
	}
	if len(q.Phases) > 0 && !slices.Contains(q.Phases, PhaseOf(g.Step)) {
		return false
	}
	return len(q.Verdicts) == 0 || slices.Contains(q.Verdicts, g.Verdict)
}

// page is s[offset:offset+limit], bounded; limit 0 is no limit.
func page[T any](s []T, offset, limit int) []T {
	offset = min(max(offset, 0), len(s))
	end := len(s)
	if limit > 0 {
		end = min(end, offset+limit)
	}
	return s[offset:end:end]
}
