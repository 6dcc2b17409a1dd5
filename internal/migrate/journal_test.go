package migrate

import (
	"slices"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/status"
)

func TestJournalEvents(t *testing.T) {
	at := time.Date(2026, 12, 1, 6, 30, 0, 0, time.UTC)
	parts := []status.GroupPartition{{Topic: "t1", Partition: 0}, {Topic: "t1", Partition: 1}, {Topic: "t2", Partition: 0}}
	v := Verdict{Group: "g", Flows: []GroupInFlow{
		{Flow: "A->B", Group: status.Group{Group: "g", Verdict: status.VerdictNotReady, Reasons: []string{"lag"}, Partitions: parts}},
		{Flow: "C->B", Group: status.Group{Group: "g", Verdict: status.VerdictSwitched, Partitions: parts[2:]}},
	}}
	es := v.Events(at, "test")
	want := []journal.Event{
		{Flow: "A->B", Subject: journal.GroupSubject, Name: "g", Kind: journal.Ready, Time: at, By: "test", Verdict: journal.VerdictNotReady, Reasons: []string{"lag"}, Topics: []string{"t1", "t2"}},
		{Flow: "C->B", Subject: journal.GroupSubject, Name: "g", Kind: journal.Ready, Time: at, By: "test", Verdict: journal.VerdictReady, Topics: []string{"t2"}},
		{Flow: "C->B", Subject: journal.GroupSubject, Name: "g", Kind: journal.Switched, Time: at, By: "test", Topics: []string{"t2"}},
	}
	if !slices.EqualFunc(es, want, journal.Event.Equal) {
		t.Errorf("verdict events:\n%+v\nwant\n%+v", es, want)
	}
	for _, e := range es {
		if err := e.Validate(); err != nil {
			t.Errorf("%+v: %v", e, err)
		}
	}

	b := RollbackResult{Group: "g", Flows: []FlowRollback{{Flow: "A->B", Partitions: []RollbackPartition{{Topic: "t1"}, {Topic: "t1"}}}}}
	if es := b.Events(at, "test"); len(es) != 0 {
		t.Errorf("a rollback not committed: %+v", es)
	}
	b.Committed = true
	want = []journal.Event{{Flow: "A->B", Subject: journal.GroupSubject, Name: "g", Kind: journal.RolledBack, Time: at, By: "test", Topics: []string{"t1"}}}
	if es := b.Events(at, "test"); !slices.EqualFunc(es, want, journal.Event.Equal) {
		t.Errorf("rollback events %+v", es)
	}
}
