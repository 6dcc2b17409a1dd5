package verify

import (
	"cmp"
	"slices"
)

// States of a partition in a report.
const (
	// StateCompared: the mirrored range was compared; the counts say how
	// it went.
	StateCompared = "compared"
	// StateNotMirrored: the flow stored nothing for the partition yet.
	StateNotMirrored = "not mirrored yet"
	// StateRecreated: the stored progress names another topic id: the
	// source topic was deleted and created again since it was mirrored
	// (or the configuration points at another cluster).
	StateRecreated = "recreated"
)

// Kinds of mismatch.
const (
	// Altered: both records are there, some fields differ.
	Altered = "altered"
	// Missing: a source record has no target record at its place.
	Missing = "missing"
	// Extra: a target record in the mirrored target range that no source
	// record maps to.
	Extra = "extra"
)

// Report is the outcome of a verification: one entry per source partition,
// sorted by flow, topic and partition, and the totals. Its JSON form is
// what `kmirror verify --json` prints.
type Report struct {
	// Identical is true when every partition was compared and no
	// mismatch was found.
	Identical  bool        `json:"identical"`
	Partitions []Partition `json:"partitions"`
	Total      Total       `json:"total"`
}

// Partition is the comparison of one source partition with its copy.
type Partition struct {
	Flow        string `json:"flow"`
	Topic       string `json:"topic"`
	TargetTopic string `json:"targetTopic"`
	Partition   int32  `json:"partition"`
	State       string `json:"state"`
	// Source and Target are the compared offset ranges.
	Source Range `json:"source"`
	Target Range `json:"target"`
	Counts
	// Mismatches are the first mismatches, in log order.
	Mismatches []Mismatch `json:"mismatches"`
}

// Range is the offsets [From, To).
type Range struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Counts count compared records. Compared is the number of source records
// compared (identical + altered + missing); extra target records are
// counted apart.
type Counts struct {
	Compared  int64 `json:"compared"`
	Identical int64 `json:"identical"`
	Altered   int64 `json:"altered"`
	Missing   int64 `json:"missing"`
	Extra     int64 `json:"extra"`
	// When the flow the other way copies the same topic names (both
	// directions), FromTarget counts the source records it wrote there
	// (copies of target records, not copied back) and OnTarget the target
	// records written there, which it copies back or will: neither is
	// compared by this flow, but by the other.
	FromTarget int64 `json:"fromTarget,omitempty"`
	OnTarget   int64 `json:"onTarget,omitempty"`
}

func (c *Counts) add(o Counts) {
	c.FromTarget += o.FromTarget
	c.OnTarget += o.OnTarget
	c.Compared += o.Compared
	c.Identical += o.Identical
	c.Altered += o.Altered
	c.Missing += o.Missing
	c.Extra += o.Extra
}

// Differs reports whether any record differs.
func (c Counts) Differs() bool { return c.Altered+c.Missing+c.Extra > 0 }

// Mismatch is one record that differs. An offset is -1 when that side has
// no record.
type Mismatch struct {
	Kind         string `json:"kind"`
	SourceOffset int64  `json:"sourceOffset"`
	TargetOffset int64  `json:"targetOffset"`
	// Fields lists what differs in an altered record: key, value,
	// headers, timestamp.
	Fields []string `json:"fields,omitempty"`
	// Reason says why a record is missing or extra.
	Reason string `json:"reason,omitempty"`
}

// Total sums a report.
type Total struct {
	Partitions  int `json:"partitions"`
	NotMirrored int `json:"notMirrored"`
	Recreated   int `json:"recreated"`
	Counts
}

// finish sorts the partitions and computes the totals.
func (r *Report) finish() {
	slices.SortFunc(r.Partitions, func(a, b Partition) int {
		return cmp.Or(cmp.Compare(a.Flow, b.Flow), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	r.Total = Total{Partitions: len(r.Partitions)}
	for _, p := range r.Partitions {
		switch p.State {
		case StateNotMirrored:
			r.Total.NotMirrored++
		case StateRecreated:
			r.Total.Recreated++
		}
		r.Total.add(p.Counts)
	}
	r.Identical = r.Total.NotMirrored+r.Total.Recreated == 0 && !r.Total.Differs()
}
