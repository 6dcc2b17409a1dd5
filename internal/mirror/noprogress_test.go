package mirror

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// copiesOf returns copies of records, as a mirror writes them.
func copiesOf(recs []*kgo.Record) []*kgo.Record {
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = &kgo.Record{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
	}
	return out
}

// A worker that died before it first persisted its progress left copies
// on the target. With no progress, the worker that starts compares the
// target from its log start with the source from the start position, and
// copies nothing twice.
func TestNoProgressYetRepeatsNothing(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, unique("app-a", 2, 0, 500))
	if err := tgt.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	tgt.Produce(t, copiesOf(src.Read(t, "app-a", 0)[:300]))
	cfg := testbed.Config(t, src, tgt, identity)
	r := start(t, cfg)
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, 30*time.Second)
	r.stop(t)
	if n := sameTopic(t, src, tgt, "app-a", "app-a", 2); n != 1000 {
		t.Errorf("%d records compared, want 1000", n)
	}
}

// Right after the start, before any copy is acknowledged, the offset map
// of a partition whose target holds adopted copies and then a record that
// is no copy already translates the mirrored end past that record: a
// group switched at that moment does not read the foreign record.
func TestMirroredEndTranslatesPastAForeignRecord(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, unique("app-a", 1, 0, 10))
	if err := tgt.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	foreign := &kgo.Record{Topic: "app-a", Value: []byte("not a copy"), Timestamp: time.UnixMilli(1)}
	tgt.Produce(t, append(copiesOf(src.Read(t, "app-a", 0)[:5]), foreign))

	cfg := testbed.Config(t, src, tgt, identity)
	f := cfg.Flows[0]
	fl := NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), nil, testbed.Logger(t), nil)
	r, err := fl.open(t.Context(), func(err error) { t.Errorf("partition failed: %v", err) }, func(*task) {})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	parts, _, err := r.starter.load(t.Context(), []discover.Topic{{Source: "app-a", Target: "app-a", Partitions: 1}}, []progress.Partition{{Topic: "app-a"}}, nil)
	if err != nil || len(parts) != 1 {
		t.Fatalf("load: %d partitions, %v", len(parts), err)
	}
	m := parts[0].m
	if end := m.End(); end.Source != 5 || end.Target != 6 {
		t.Errorf("mirrored end %+v, want source 5 (5 copies adopted) and target 6 (past the foreign record)", end)
	}
	if got, _ := m.Translate(5); got != 6 {
		t.Errorf("offset 5 translates to %d, want 6: the foreign record is at 5", got)
	}
	if got, _ := m.Translate(4); got != 4 {
		t.Errorf("offset 4 translates to %d, want its copy at 4", got)
	}
}
