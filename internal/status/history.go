package status

import (
	"slices"
	"sync"
	"time"

	"github.com/kmirror/kmirror/internal/journal"
)

// The lag history a running worker keeps in memory: the largest lag of
// every HistoryStep over the last HistoryWindow, for each topic it reports.
const (
	HistoryStep   = 30 * time.Second
	HistoryWindow = time.Hour
)

// LagHistory is the lag of every topic over the last hour, as
// /api/v1/history serves it for the status page's sparklines.
type LagHistory struct {
	Time          time.Time     `json:"time"`
	StepSeconds   float64       `json:"stepSeconds"`
	WindowSeconds float64       `json:"windowSeconds"`
	Flows         []FlowHistory `json:"flows"`
}

// FlowHistory is the lag history of one flow's topics.
type FlowHistory struct {
	Name   string         `json:"name"`
	Topics []TopicHistory `json:"topics"`
}

// TopicHistory is one topic's lag, oldest first: one point per step
// that had a report, each the largest lag the step's reports showed.
type TopicHistory struct {
	Topic  string     `json:"topic"`
	Points []LagPoint `json:"points"`
}

// LagPoint is the largest lag of one step; Time is the step's start.
type LagPoint struct {
	Time       time.Time `json:"time"`
	LagRecords int64     `json:"lagRecords"`
	LagSeconds float64   `json:"lagSeconds"`
}

// History keeps the lag history of the reports given to Add. It is safe
// for concurrent use.
type History struct {
	mu     sync.Mutex
	flows  []string                       // in the order reports list them
	topics map[string]map[string]*[]point // flow → topic → points
}

// point is a LagPoint as kept: 16 bytes, so that an hour of a topic's
// history (120 points) takes about 2 KB.
type point struct {
	step       int32 // the step's start: step × HistoryStep since the Unix epoch
	lagSeconds float32
	lagRecords int64
}

// stepSeconds is HistoryStep in seconds.
const stepSeconds = int64(HistoryStep / time.Second)

// NewHistory makes an empty History.
func NewHistory() *History { return &History{topics: map[string]map[string]*[]point{}} }

// Add takes the lag of every topic r reports (not those done or removed,
// listed for their migration step alone), and forgets what is older than
// HistoryWindow: a topic no report showed for that long is dropped.
func (h *History) Add(r Report) {
	h.mu.Lock()
	defer h.mu.Unlock()
	at := int32(r.Time.Unix() / stepSeconds)
	oldest := r.Time.Add(-HistoryWindow).Unix() // seconds: points of steps that began before it go
	for _, f := range r.Flows {
		if !slices.Contains(h.flows, f.Name) {
			h.flows = append(h.flows, f.Name)
			h.topics[f.Name] = map[string]*[]point{}
		}
		for _, t := range f.Topics {
			if t.Step != nil && (t.Step.Phase == string(journal.PhaseDone) || t.Step.Phase == string(journal.PhaseRemoved)) {
				continue // no longer copied
			}
			ps := h.topics[f.Name][t.Topic]
			if ps == nil {
				ps = &[]point{}
				h.topics[f.Name][t.Topic] = ps
			}
			if n := len(*ps); n > 0 && (*ps)[n-1].step == at {
				last := &(*ps)[n-1]
				last.lagRecords = max(last.lagRecords, t.LagRecords)
				last.lagSeconds = max(last.lagSeconds, float32(t.LagSeconds))
				continue
			}
			*ps = append(*ps, point{step: at, lagRecords: t.LagRecords, lagSeconds: float32(t.LagSeconds)})
		}
	}
	for _, topics := range h.topics {
		for name, ps := range topics {
			*ps = slices.DeleteFunc(*ps, func(p point) bool { return int64(p.step)*stepSeconds < oldest })
			if len(*ps) == 0 {
				delete(topics, name)
			}
		}
	}
}

// Snapshot is the history now.
func (h *History) Snapshot() LagHistory {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := LagHistory{Time: time.Now().UTC(), StepSeconds: HistoryStep.Seconds(), WindowSeconds: HistoryWindow.Seconds(), Flows: []FlowHistory{}}
	for _, name := range h.flows {
		fh := FlowHistory{Name: name, Topics: []TopicHistory{}}
		for _, t := range sortedKeys(h.topics[name]) {
			ps := *h.topics[name][t]
			th := TopicHistory{Topic: t, Points: make([]LagPoint, len(ps))}
			for i, p := range ps {
				th.Points[i] = LagPoint{Time: time.Unix(int64(p.step)*stepSeconds, 0).UTC(),
					LagRecords: p.lagRecords, LagSeconds: float64(p.lagSeconds)}
			}
			fh.Topics = append(fh.Topics, th)
		}
		out.Flows = append(out.Flows, fh)
	}
	return out
}
