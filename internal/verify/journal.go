package verify

import (
	"time"

	"github.com/kmirror/kmirror/internal/journal"
)

// Events are the report's verify steps for the migration's journal: one
// per flow and topic compared, identical or not, with its counts.
func (r *Report) Events(at time.Time, by string) []journal.Event {
	type ft struct{ flow, topic string }
	var order []ft
	totals := map[ft]*Total{}
	for _, p := range r.Partitions {
		k := ft{p.Flow, p.Topic}
		t := totals[k]
		if t == nil {
			t = &Total{}
			totals[k] = t
			order = append(order, k)
		}
		t.Partitions++
		switch p.State {
		case StateNotMirrored:
			t.NotMirrored++
		case StateRecreated:
			t.Recreated++
		}
		t.Counts.add(p.Counts)
	}
	var es []journal.Event
	for _, k := range order {
		t := totals[k]
		verdict := journal.VerdictIdentical
		if t.NotMirrored+t.Recreated > 0 || t.Differs() {
			verdict = journal.VerdictDiffers
		}
		es = append(es, journal.Event{Flow: k.flow, Subject: journal.TopicSubject, Name: k.topic, Kind: journal.Verified,
			Time: at, By: by, Verdict: verdict, Counts: map[string]int64{
				"partitions": int64(t.Partitions), "notMirrored": int64(t.NotMirrored), "recreated": int64(t.Recreated),
				"compared": t.Compared, "identical": t.Identical, "altered": t.Altered, "missing": t.Missing, "extra": t.Extra,
			}})
	}
	return es
}
