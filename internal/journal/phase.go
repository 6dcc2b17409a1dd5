package journal

import (
	"maps"
	"slices"
	"time"
)

// Phase is where a topic or a group stands in the seed's steps (a)–(e).
type Phase string

const (
	PhaseNone       Phase = ""                   // no part in a migration: not selected, no story
	PhaseMirroring  Phase = "mirroring"          // (a) copied; its consumers still read the source
	PhaseReady      Phase = "consumers-ready"    // (b) every group reading it may switch
	PhaseSwitched   Phase = "consumers-switched" // (c) every group reading it runs on the target
	PhaseDrained    Phase = "producers-drained"  // (d) its producers moved: the source is all on the target
	PhaseVerified   Phase = "verified"           // verify found the target identical
	PhaseDone       Phase = "done"               // (e) left the selection after a verification
	PhaseRemoved    Phase = "removed"            // left the selection without a verification
	PhaseRolledBack Phase = "rolled-back"        // a group whose consumers went back to the source
)

// Order lists the phases: the way forward, then the two ways out of it.
var Order = []Phase{PhaseMirroring, PhaseReady, PhaseSwitched, PhaseDrained, PhaseVerified, PhaseDone, PhaseRemoved, PhaseRolledBack}

// Switched tells whether a group in phase p runs on the target: switched
// or further on the way forward.
func (p Phase) Switched() bool { return rank[p] >= rank[PhaseSwitched] }

// rank orders the phases of the way forward.
var rank = map[Phase]int{PhaseNone: 0, PhaseRemoved: 0, PhaseRolledBack: 1, PhaseMirroring: 1, PhaseReady: 2, PhaseSwitched: 3, PhaseDrained: 4, PhaseVerified: 5, PhaseDone: 6}

// Standing is a phase, since when and by what; Since is zero when the
// phase is seen on the clusters now and no event records when it began.
type Standing struct {
	Phase Phase     `json:"phase"`
	Since time.Time `json:"since,omitzero"`
	By    string    `json:"by,omitempty"`
}

func standing(p Phase, e Event) Standing { return Standing{Phase: p, Since: e.Time, By: e.By} }

// Now is what the clusters show at present, for what the journal cannot
// know: what the flow selects, and where groups run.
type Now struct {
	Selected map[string]bool // topics the flow selects (source names)
	Groups   map[string]GroupNow
}

// GroupNow is a group as the clusters show it now.
type GroupNow struct {
	Topics   []string // selected topics it committed offsets on, on the source
	Ready    bool     // its switch verdict now is ready
	OnTarget bool     // it has members on the target
}

// Story is a flow's journal: the latest event of each step of each topic
// and group, as compaction keeps it, indexed by topic and group so that
// what is asked of one of them costs what it holds, not what the whole
// journal holds.
type Story struct {
	subjects map[subject]map[Kind]Event
}

type subject struct {
	kind SubjectKind
	name string
}

// NewStory holds events, read in the topic's order: a later event of a
// step replaces the earlier one.
func NewStory(events ...Event) *Story {
	s := &Story{subjects: map[subject]map[Kind]Event{}}
	for _, e := range events {
		s.Add(e)
	}
	return s
}

func (s *Story) clone() *Story {
	c := &Story{subjects: make(map[subject]map[Kind]Event, len(s.subjects))}
	for k, steps := range s.subjects {
		c.subjects[k] = maps.Clone(steps)
	}
	return c
}

// Add records e, replacing the step's earlier event.
func (s *Story) Add(e Event) {
	k := subject{e.Subject, e.Name}
	steps := s.subjects[k]
	if steps == nil {
		steps = map[Kind]Event{}
		s.subjects[k] = steps
	}
	steps[e.Kind] = e
}

// Event is the latest event of a step.
func (s *Story) Event(kind SubjectKind, name string, k Kind) (Event, bool) {
	e, ok := s.subjects[subject{kind, name}][k]
	return e, ok
}

// Timeline is every recorded step of a topic or group, oldest first.
func (s *Story) Timeline(kind SubjectKind, name string) []Event {
	steps := s.subjects[subject{kind, name}]
	if len(steps) == 0 {
		return nil
	}
	es := slices.Collect(maps.Values(steps))
	// Steps recorded at the same time are listed in the order a
	// migration takes them.
	slices.SortFunc(es, func(a, b Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return slices.Index(order, a.Kind) - slices.Index(order, b.Kind)
	})
	return es
}

// Names are the topics or groups the story tells of, sorted.
func (s *Story) Names(kind SubjectKind) []string {
	var names []string
	for k := range s.subjects {
		if k.kind == kind {
			names = append(names, k.name)
		}
	}
	slices.Sort(names)
	return names
}

// Phases says where each topic and group stands, from the story and the
// clusters now: every topic and group either tells of.
//
// A group is switched once its consumers were seen on the target (and not
// rolled back since), ready when its last verdict was, mirroring while
// its offsets are translated; past switched, it stands where the least
// advanced of its topics stands (drained, verified, done). A topic is
// done once it left the selection after an identical verify, verified
// and drained as those steps recorded, switched or ready when every group
// reading it is, and mirroring while selected.
func Phases(s *Story, now Now) (topics, groups map[string]Standing) {
	groupNames := s.Names(GroupSubject)
	for g := range now.Groups {
		if _, told := s.subjects[subject{GroupSubject, g}]; !told {
			groupNames = append(groupNames, g)
		}
	}
	readers := map[string][]string{} // topic → groups reading it
	reads := map[string][]string{}   // group → topics it reads
	base := map[string]Standing{}
	for _, g := range groupNames {
		base[g] = s.groupBase(g, now.Groups[g])
		reads[g] = s.groupTopics(g, now.Groups[g])
		for _, t := range reads[g] {
			readers[t] = append(readers[t], g)
		}
	}

	topicNames := s.Names(TopicSubject)
	told := func(t string) bool { _, ok := s.subjects[subject{TopicSubject, t}]; return ok }
	for t, selected := range now.Selected {
		if selected && !told(t) {
			topicNames = append(topicNames, t)
		}
	}
	for t := range readers {
		if !told(t) && !now.Selected[t] {
			topicNames = append(topicNames, t)
		}
	}
	topics = map[string]Standing{}
	for _, t := range topicNames {
		if st := s.topicPhase(t, now.Selected[t], readers[t], base); st.Phase != PhaseNone {
			topics[t] = st
		}
	}

	groups = map[string]Standing{}
	for _, g := range groupNames {
		st := base[g]
		if st.Phase == PhaseSwitched {
			st = further(st, reads[g], topics)
		}
		groups[g] = st
	}
	return topics, groups
}

// groupBase is a group's phase up to switched (or rolled back).
func (s *Story) groupBase(g string, now GroupNow) Standing {
	switched, hasSwitched := s.Event(GroupSubject, g, Switched)
	back, hasBack := s.Event(GroupSubject, g, RolledBack)
	switch {
	case hasBack && (!hasSwitched || back.Time.After(switched.Time)) && !now.OnTarget:
		return standing(PhaseRolledBack, back)
	case hasSwitched:
		return standing(PhaseSwitched, switched)
	case now.OnTarget:
		return Standing{Phase: PhaseSwitched}
	}
	if ready, ok := s.Event(GroupSubject, g, Ready); ok && ready.Verdict == VerdictReady {
		return standing(PhaseReady, ready)
	}
	if now.Ready {
		return Standing{Phase: PhaseReady}
	}
	if tr, ok := s.Event(GroupSubject, g, Translated); ok {
		return standing(PhaseMirroring, tr)
	}
	return Standing{Phase: PhaseMirroring}
}

// groupTopics are the topics a group reads: those it commits on now, and
// those its recorded steps named.
func (s *Story) groupTopics(g string, now GroupNow) []string {
	ts := slices.Clone(now.Topics)
	for _, e := range s.subjects[subject{GroupSubject, g}] {
		ts = append(ts, e.Topics...)
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// topicPhase is a topic's phase, given the base phases of the groups that
// read it.
func (s *Story) topicPhase(t string, selected bool, readers []string, groups map[string]Standing) Standing {
	verified, hasVerified := s.Event(TopicSubject, t, Verified)
	identical := hasVerified && verified.Verdict == VerdictIdentical
	if removed, ok := s.Event(TopicSubject, t, Removed); ok && !selected {
		if identical && !verified.Time.After(removed.Time) {
			return standing(PhaseDone, removed)
		}
		return standing(PhaseRemoved, removed)
	}
	if identical {
		return standing(PhaseVerified, verified)
	}
	if drained, ok := s.Event(TopicSubject, t, Drained); ok {
		return standing(PhaseDrained, drained)
	}
	if len(readers) > 0 {
		all := func(p Phase) (Standing, bool) {
			latest := Standing{Phase: p}
			for _, g := range readers {
				st := groups[g]
				if rank[st.Phase] < rank[p] || st.Phase == PhaseRolledBack {
					return Standing{}, false
				}
				if st.Since.After(latest.Since) {
					latest.Since, latest.By = st.Since, st.By
				}
			}
			return latest, true
		}
		if st, ok := all(PhaseSwitched); ok {
			return st
		}
		if st, ok := all(PhaseReady); ok {
			return st
		}
	}
	if started, ok := s.Event(TopicSubject, t, Started); ok {
		return standing(PhaseMirroring, started)
	}
	if selected {
		return Standing{Phase: PhaseMirroring}
	}
	return Standing{}
}

// further is a switched group's phase past switched: where the least
// advanced of its topics stands, once every one of them is drained or
// beyond.
func further(st Standing, ts []string, topics map[string]Standing) Standing {
	if len(ts) == 0 {
		return st
	}
	least := Standing{Phase: PhaseDone}
	for _, t := range ts {
		tp := topics[t]
		if rank[tp.Phase] < rank[PhaseDrained] || tp.Phase == PhaseRemoved {
			return st
		}
		if rank[tp.Phase] < rank[least.Phase] {
			least.Phase = tp.Phase
		}
	}
	for _, t := range ts {
		if tp := topics[t]; rank[tp.Phase] >= rank[least.Phase] && tp.Since.After(least.Since) {
			least.Since, least.By = tp.Since, tp.By
		}
	}
	return least
}
