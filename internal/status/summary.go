package status

import (
	"cmp"
	"slices"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// DefaultWorst is how many topics and groups a Summary names in each of
// its worst lists.
const DefaultWorst = 10

// summaryList bounds the other lists of a summary (stalled partitions,
// blocked topics, a group's reasons): a summary stays small at any scale.
const summaryList = 10

// Summary is a report in a size that does not grow with the number of
// topics and groups: per flow, counts by phase and verdict and the worst
// ones. /api/v1/status/summary serves it, and `kmirror status` prints it
// for a flow with many topics or groups.
type Summary struct {
	Time  time.Time     `json:"time"`
	Flows []FlowSummary `json:"flows"`
}

// FlowSummary is one flow of a Summary. Its fields mean what the Flow's
// of the same name mean.
type FlowSummary struct {
	Name        string `json:"name"`
	Source      string `json:"source"`
	Target      string `json:"target"`
	Direction   string `json:"direction"`
	State       string `json:"state"`
	StateReason string `json:"stateReason,omitempty"`
	// Workers are the flow's workers with how many partitions (or
	// slots) each holds; null when unknown.
	Workers      []WorkerSummary        `json:"workers"`
	LastProgress *time.Time             `json:"lastProgress"`
	Stalled      Some[string]           `json:"stalled"`
	Heartbeat    *Heartbeat             `json:"heartbeat,omitempty"`
	Errors       Some[string]           `json:"errors"`
	Blocked      Some[discover.Blocked] `json:"blocked"`
	Topics       TopicCounts            `json:"topics"`
	Groups       GroupCounts            `json:"groups"`
	// WorstLagRecords and WorstLagSeconds are the topics still copied
	// with the largest lag in records and in seconds, largest first, at
	// most the summary's worst count; NotReady the groups not ready, in
	// the report's order, as many.
	WorstLagRecords []TopicLag   `json:"worstLagRecords"`
	WorstLagSeconds []TopicLag   `json:"worstLagSeconds"`
	NotReady        []GroupBrief `json:"notReady"`
}

// Some is the first items of a list and how long the list is.
type Some[T any] struct {
	Count int `json:"count"`
	First []T `json:"first"`
}

func some[T any](s []T, n int) Some[T] {
	return Some[T]{Count: len(s), First: append([]T{}, s[:min(n, len(s))]...)}
}

// WorkerSummary is a worker and how much it holds.
type WorkerSummary struct {
	ID     string `json:"id"`
	Client string `json:"client"`
	Host   string `json:"host"`
	Held   int    `json:"held"`
}

// TopicCounts count a flow's topics: by migration phase (PhaseOf), those
// with records not yet copied, and the records not yet copied and copied,
// summed. Partitions are the topics' partitions the report lists, or, in
// a report without per-partition detail (status.Options.Partitions), the
// partitions the flow's workers hold.
type TopicCounts struct {
	Total      int            `json:"total"`
	Partitions int            `json:"partitions"`
	Lagging    int            `json:"lagging"`
	LagRecords int64          `json:"lagRecords"`
	Copied     int64          `json:"copied"`
	ByPhase    map[string]int `json:"byPhase"`
}

// GroupCounts count a flow's groups by migration phase and by verdict.
type GroupCounts struct {
	Total     int            `json:"total"`
	ByPhase   map[string]int `json:"byPhase"`
	ByVerdict map[string]int `json:"byVerdict"`
}

// TopicLag is a topic's lag and where it stands.
type TopicLag struct {
	Topic            string   `json:"topic"`
	Target           string   `json:"target"`
	Phase            string   `json:"phase"`
	LagRecords       int64    `json:"lagRecords"`
	LagSeconds       float64  `json:"lagSeconds"`
	RecordsPerSecond *float64 `json:"recordsPerSecond"`
}

// GroupBrief is a group not ready and why, its reasons bounded.
type GroupBrief struct {
	Group          string       `json:"group"`
	Phase          string       `json:"phase"`
	ActiveOnSource int          `json:"activeOnSource"`
	ActiveOnTarget int          `json:"activeOnTarget"`
	Reasons        Some[string] `json:"reasons"`
}

// Summarize sums r up, naming at most worst topics and groups in each
// worst list (DefaultWorst when worst < 1).
func Summarize(r Report, worst int) Summary {
	if worst < 1 {
		worst = DefaultWorst
	}
	out := Summary{Time: r.Time, Flows: make([]FlowSummary, len(r.Flows))}
	for i, f := range r.Flows {
		out.Flows[i] = summarize(f, worst)
	}
	return out
}

func summarize(f Flow, worst int) FlowSummary {
	s := FlowSummary{
		Name: f.Name, Source: f.Source, Target: f.Target, Direction: f.Direction, State: f.State, StateReason: f.StateReason,
		LastProgress: f.LastProgress, Heartbeat: f.Heartbeat,
		Stalled: some(f.Stalled, summaryList), Errors: some(f.Errors, summaryList), Blocked: some(f.Blocked, summaryList),
		Topics:          TopicCounts{ByPhase: map[string]int{}},
		Groups:          GroupCounts{ByPhase: map[string]int{}, ByVerdict: map[string]int{}},
		WorstLagRecords: []TopicLag{}, WorstLagSeconds: []TopicLag{}, NotReady: []GroupBrief{},
	}
	if f.Workers != nil {
		s.Workers = make([]WorkerSummary, len(f.Workers))
		for i, w := range f.Workers {
			s.Workers[i] = WorkerSummary{ID: w.ID, Client: w.Client, Host: w.Host, Held: held(w)}
		}
	}
	var copying []TopicLag
	for _, t := range f.Topics {
		phase := PhaseOf(t.Step)
		s.Topics.Total++
		s.Topics.ByPhase[phase]++
		s.Topics.Partitions += len(t.Partitions)
		s.Topics.LagRecords += t.LagRecords
		s.Topics.Copied += t.Copied
		if t.LagRecords > 0 {
			s.Topics.Lagging++
		}
		if finished(phase) {
			continue
		}
		copying = append(copying, TopicLag{Topic: t.Topic, Target: t.Target, Phase: phase,
			LagRecords: t.LagRecords, LagSeconds: t.LagSeconds, RecordsPerSecond: t.RecordsPerSecond})
	}
	if s.Topics.Partitions == 0 {
		for _, w := range f.Workers {
			for t, ps := range w.Holds {
				if t != workgroup.Slots {
					s.Topics.Partitions += len(ps)
				}
			}
		}
	}
	s.WorstLagRecords = worstBy(copying, worst, func(t TopicLag) float64 { return float64(t.LagRecords) })
	s.WorstLagSeconds = worstBy(copying, worst, func(t TopicLag) float64 { return t.LagSeconds })
	for _, g := range f.Groups {
		phase := PhaseOf(g.Step)
		s.Groups.Total++
		s.Groups.ByPhase[phase]++
		s.Groups.ByVerdict[g.Verdict]++
		if g.Verdict == VerdictNotReady && len(s.NotReady) < worst {
			s.NotReady = append(s.NotReady, GroupBrief{Group: g.Group, Phase: phase,
				ActiveOnSource: g.ActiveOnSource, ActiveOnTarget: g.ActiveOnTarget, Reasons: some(g.Reasons, summaryList)})
		}
	}
	return s
}

// worstBy is the n topics with the largest positive key, largest first,
// ties by name.
func worstBy(ts []TopicLag, n int, key func(TopicLag) float64) []TopicLag {
	out := slices.DeleteFunc(slices.Clone(ts), func(t TopicLag) bool { return key(t) <= 0 })
	slices.SortStableFunc(out, func(a, b TopicLag) int {
		return cmp.Or(cmp.Compare(key(b), key(a)), cmp.Compare(a.Topic, b.Topic))
	})
	return append([]TopicLag{}, out[:min(n, len(out))]...)
}

// held counts the partitions (or slots) a worker holds.
func held(w workgroup.Worker) int {
	n := 0
	for _, ps := range w.Holds {
		n += len(ps)
	}
	return n
}

// finished tells whether a phase is past copying: the topic left the
// selection.
func finished(phase string) bool {
	return phase == string(journal.PhaseDone) || phase == string(journal.PhaseRemoved)
}
