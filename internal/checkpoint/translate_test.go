package checkpoint

import (
	"context"
	"testing"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/policy"
	"github.com/kmirror/kmirror/internal/progress"
)

// fixed translates every offset to at, as MM2 would when mm2 is set.
type fixed struct {
	at  int64
	mm2 bool
}

func (fixed) Copied(context.Context, progress.Partition) (progress.Copied, bool, error) {
	return progress.Copied{}, false, nil
}

func (v fixed) Translate(context.Context, progress.Partition, int64) (progress.Translation, bool, error) {
	return progress.Translation{Target: "ignored", Offset: v.at, Result: offsetmap.Exact, MM2: v.mm2}, true, nil
}

// The one translation rule: the target topic is the policy's name for it;
// MM2's earlier checkpoints are read only for a translation inside MM2's
// range, and there a checkpoint MM2 made for that very offset wins when it
// goes further.
func TestTranslate(t *testing.T) {
	repl, err := policy.NewReplication("default", ".", true)
	if err != nil {
		t.Fatal(err)
	}
	f := &config.Flow{Source: "a", Target: "b", Settings: config.Settings{Replication: repl}}
	p := progress.Partition{Topic: "orders", Partition: 2}
	reads := 0
	prior := func() Checkpoints {
		reads++
		return Checkpoints{emitKey{"app", "a.orders", 2}: {Group: "app", Topic: "a.orders", Partition: 2, Upstream: 40, Downstream: 39}}
	}
	for _, c := range []struct {
		name      string
		view      fixed
		g, want   int64
		wantReads int
	}{
		{"exact", fixed{at: 30}, 40, 30, 0},
		{"MM2's range, its checkpoint goes further", fixed{at: 31, mm2: true}, 40, 39, 1},
		{"MM2's range, no checkpoint of that offset", fixed{at: 31, mm2: true}, 41, 31, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			reads = 0
			tr, ok, err := Translate(t.Context(), c.view, f, prior, "app", p, c.g)
			if err != nil || !ok || tr.Offset != c.want || tr.Target != "a.orders" || reads != c.wantReads {
				t.Errorf("Translate = %+v, %v, %v with %d reads of the checkpoints; want %d on a.orders, %d reads", tr, ok, err, reads, c.want, c.wantReads)
			}
		})
	}
}
