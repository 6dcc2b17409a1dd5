package status

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// Verdicts for switching a consumer group's consumers to the target.
const (
	// VerdictReady: every partition's committed source offset is translated
	// and committed on the target, no consumer of the group is active on
	// either cluster, and the replication lag is under the threshold.
	VerdictReady = "ready"
	// VerdictNotReady: at least one reason stands; Reasons lists them.
	VerdictNotReady = "not-ready"
	// VerdictSwitched: the group's consumers already run on the target.
	VerdictSwitched = "switched"
)

// Report is the state of every flow of a configuration: what `kmirror
// status --json` prints and `/api/v1/status` serves. Its JSON form is a
// documented contract (README, "Status JSON").
type Report struct {
	Time  time.Time `json:"time"`
	Flows []Flow    `json:"flows"`
}

// Directions and states of a flow.
const (
	DirectionForward = "forward"
	DirectionBack    = "back"

	StateCaughtUp = "caught-up"
	StateCopying  = "copying"
	StateUnknown  = "unknown"
	// StateStopped: no kmirror worker is in the flow's workers' group;
	// nothing copies it, whatever its lag.
	StateStopped = "stopped"
	// StateStalled: workers run the flow, but the progress of some
	// partitions behind their source's end has not moved for
	// Options.StallAfter.
	StateStalled = "stalled"
)

// ReasonNoWorker is why a flow is StateStopped.
const ReasonNoWorker = "no kmirror worker runs this flow"

// Flow is one source → target flow.
type Flow struct {
	Name   string `json:"name"` // "source->target"
	Source string `json:"source"`
	Target string `json:"target"`
	// Direction is "forward" for a flow into the configuration's target,
	// "back" for the way back of one (B->A next to A->B). State is
	// "caught-up" when every selected topic is copied to its source's end,
	// "copying" while records remain, "stopped" when no worker runs the
	// flow, "stalled" when partitions behind do not move (Stalled),
	// "unknown" when the flow's state could not be read; StateReason says
	// why a flow is stopped or stalled.
	Direction   string `json:"direction"`
	State       string `json:"state"`
	StateReason string `json:"stateReason,omitempty"`
	// Workers are the kmirror workers in the flow's workers' group on the
	// target, with what each holds; empty when none runs the flow, null
	// when the group could not be described (Errors says why).
	Workers []workgroup.Worker `json:"workers"`
	// LastProgress is when the flow's progress last moved, on any
	// partition; null when it never did as far as can be seen.
	LastProgress *time.Time `json:"lastProgress"`
	// Stalled lists the partitions ("topic[p]") whose progress has not
	// moved for Options.StallAfter while their source's end is ahead.
	Stalled []string           `json:"stalled"`
	Topics  []Topic            `json:"topics"`
	Groups  []Group            `json:"groups"`
	Blocked []discover.Blocked `json:"blocked"`
	// Heartbeat is the last acknowledged heartbeat; only a running worker
	// knows it.
	Heartbeat *Heartbeat `json:"heartbeat,omitempty"`
	// Errors lists what could not be read for this flow; the rest of the
	// flow's report is still filled in.
	Errors []string `json:"errors"`
	// Page is set in the answer to a Query (Query.Apply): which part of
	// the flow's topics and groups the answer holds. A whole report has
	// none.
	Page *PageInfo `json:"page,omitempty"`

	// basis is what the collector made the steps of from, for Record; nil
	// when the journal could not be read.
	basis *stepsBasis
}

// Topic is one mirrored source topic.
type Topic struct {
	Topic  string `json:"topic"`
	Target string `json:"target"`
	// LagRecords is the number of source offsets not yet copied, summed over
	// the partitions; LagSeconds the age of the oldest record not yet copied
	// (0 when caught up), measured on the most lagging partitions (at most
	// MaxAgeSamples per flow, the most lagging of each topic first).
	LagRecords int64   `json:"lagRecords"`
	LagSeconds float64 `json:"lagSeconds"`
	// RecordsPerSecond is the copy rate between the last two samples; null
	// before a second sample.
	RecordsPerSecond *float64 `json:"recordsPerSecond"`
	// Copied is the number of source offsets mirrored so far, summed over
	// the partitions (from the first offset the mirror covers).
	Copied     int64       `json:"copied"`
	Partitions []Partition `json:"partitions"`
	// Step is where the topic stands in the migration; a topic that left
	// the selection after its migration is listed for its step alone.
	Step *Step `json:"step,omitempty"`
}

// Step is where a topic or group stands in the migration, from the
// migration's journal and the clusters (journal.Phases): its phase, and
// since when and by what when the journal recorded it.
type Step struct {
	Phase string     `json:"phase"`
	Since *time.Time `json:"since,omitempty"`
	By    string     `json:"by,omitempty"`
	// Timeline is every step the journal recorded of the topic or group,
	// oldest first (the latest of each kind).
	Timeline []StepEvent `json:"timeline"`
}

// StepEvent is one recorded step of a topic or group (a journal event).
type StepEvent struct {
	Event   string    `json:"event"` // started, caught-up, translated, ready, …
	Time    time.Time `json:"time"`
	By      string    `json:"by"`
	Verdict string    `json:"verdict,omitempty"`
	Reasons []string  `json:"reasons,omitempty"`
	Counts  Counts    `json:"counts,omitempty"`
	// Topics are the topics a group event's group read (source names).
	Topics []string `json:"topics,omitempty"`
}

// Summary is the event's verdict, counts and reasons in a few words:
// "identical, compared 4000, missing 0, extra 0". A count the verdict
// names ("identical") is said by the verdict.
func (e StepEvent) Summary() string {
	var parts []string
	if e.Verdict != "" {
		parts = append(parts, e.Verdict)
	}
	for _, k := range journal.CountNames(e.Counts) {
		if k != e.Verdict {
			parts = append(parts, fmt.Sprintf("%s %d", k, e.Counts[k]))
		}
	}
	out := strings.Join(parts, ", ")
	if len(e.Reasons) > 0 {
		out += ": " + strings.Join(e.Reasons, "; ")
	}
	return out
}

// Counts are an event's figures by name. Their JSON object lists them in
// journal.CountNames' order (compared, identical, missing, extra…), so
// that a reader that keeps an object's order (the page) shows them so.
type Counts map[string]int64

// MarshalJSON writes the counts in journal.CountNames' order.
func (c Counts) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	b := []byte{'{'}
	for i, name := range journal.CountNames(c) {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), strconv.FormatInt(c[name], 10)...)
	}
	return append(b, '}'), nil
}

// Partition is one partition of a mirrored topic.
type Partition struct {
	Partition int32 `json:"partition"`
	// SourceEnd is the source log end offset; Next the next source offset
	// to copy (null when nothing was copied yet).
	SourceEnd  int64   `json:"sourceEnd"`
	Next       *int64  `json:"next"`
	LagRecords int64   `json:"lagRecords"`
	LagSeconds float64 `json:"lagSeconds"`
	// Stopped says why the partition is not copied, when it is not.
	Stopped string `json:"stopped,omitempty"`
}

// Group is one consumer group selected for checkpointing.
type Group struct {
	Group string `json:"group"`
	// Verdict is VerdictReady, VerdictNotReady or VerdictSwitched; Reasons
	// say why a group is not ready, each in words an operator can act on.
	Verdict        string           `json:"verdict"`
	Reasons        []string         `json:"reasons"`
	ActiveOnSource int              `json:"activeOnSource"` // members
	ActiveOnTarget int              `json:"activeOnTarget"` // members
	Partitions     []GroupPartition `json:"partitions"`
	// Step is where the group stands in the migration; a group whose
	// topics all left the selection is listed for its step alone.
	Step *Step `json:"step,omitempty"`
}

// GroupPartition is one partition a group committed an offset for.
type GroupPartition struct {
	Topic       string `json:"topic"`
	TargetTopic string `json:"targetTopic"`
	Partition   int32  `json:"partition"`
	// Source is the committed offset on the source; Translated its exact
	// translation (null when it cannot be translated yet); Target the
	// offset committed on the target (null when none).
	Source     int64  `json:"source"`
	Translated *int64 `json:"translated"`
	Target     *int64 `json:"target"`
	// Translation says how Translated was found: "exact" (kmirror's
	// offset map: the group resumes at the record after its last one) or
	// "mm2" (the offset lies where MirrorMaker 2 copied before kmirror
	// took over, translated from MM2's offset syncs as MM2 does: the group
	// may read some records again, never skips one); empty when not
	// translated.
	Translation string `json:"translation,omitempty"`
	// State is "in-sync", "pending", "not-mirrored", "expired",
	// "target-ahead" or "not-replicated".
	State string `json:"state"`
}

// How a group offset was translated.
const (
	TranslationExact = "exact"
	TranslationMM2   = "mm2"
)

// Heartbeat is the last heartbeat a worker wrote and the target
// acknowledged.
type Heartbeat struct {
	Time       time.Time `json:"time"`
	RTTSeconds float64   `json:"rttSeconds"`
}
