package cluster

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestListTopics checks ListTopics against kadm's: the same topics, IDs
// and partition counts, internal topics left out, in name order.
func TestListTopics(t *testing.T) {
	ctx, cl := startClient(t)
	adm := kadm.NewClient(cl)
	for name, parts := range map[string]int32{"orders": 3, "audit": 2, "zeta": 1} {
		if _, err := adm.CreateTopic(ctx, parts, 1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	// A group's commit makes the broker hold __consumer_offsets.
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 0, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "g", offsets); err != nil {
		t.Fatal(err)
	}
	got, err := ListTopics(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	want, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tm := range got {
		names = append(names, tm.Name)
		d, ok := want[tm.Name]
		switch {
		case !ok:
			t.Errorf("%s: not listed by kadm", tm.Name)
		case tm.ID != d.ID || tm.Partitions != int32(len(d.Partitions)) || tm.Err != nil:
			t.Errorf("%s: %+v, kadm says id %v, %d partitions", tm.Name, tm, d.ID, len(d.Partitions))
		}
	}
	if want := []string{"audit", "orders", "zeta"}; !slices.Equal(names, want) {
		t.Errorf("topics %v, want %v", names, want)
	}

	// By name: a topic the cluster does not know says so, and is not
	// created.
	named, err := ListTopics(ctx, cl, "orders", "absent")
	if err != nil {
		t.Fatal(err)
	}
	if len(named) != 2 || named[0].Name != "absent" || !errors.Is(named[0].Err, kerr.UnknownTopicOrPartition) ||
		named[1].Name != "orders" || named[1].Partitions != 3 || named[1].Err != nil {
		t.Errorf("ListTopics(orders, absent) = %+v", named)
	}
	if again, err := adm.ListTopics(ctx); err != nil || again.Has("absent") {
		t.Errorf("absent was created (%v)", err)
	}
}

// TestListOffsets checks ListOffsets against kadm's ListStartOffsets and
// ListEndOffsets, and that a topic the cluster does not know gives each
// of its partitions an error rather than an offset.
func TestListOffsets(t *testing.T) {
	ctx, cl := startClient(t)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		for range 2 + p {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := adm.DeleteRecords(ctx, kadm.Offsets{"orders": {1: {Topic: "orders", Partition: 1, At: 1}}}); err != nil {
		t.Fatal(err)
	}
	// orders' leaders as ListTopics gives them: asked directly, absent's
	// through franz-go.
	topics, err := ListTopics(ctx, cl)
	if err != nil || len(topics) != 1 || topics[0].Leaders[0] < 0 {
		t.Fatalf("ListTopics = %+v, %v", topics, err)
	}
	leaders := map[string][]int32{"orders": topics[0].Leaders, "absent": UnknownLeaders(2)}
	for _, at := range []int64{AtStart, AtEnd} {
		got, err := ListOffsets(ctx, cl, leaders, at)
		if err != nil {
			t.Fatal(err)
		}
		want, err := adm.ListEndOffsets(ctx, "orders")
		if at == AtStart {
			want, err = adm.ListStartOffsets(ctx, "orders")
		}
		if err != nil {
			t.Fatal(err)
		}
		for p := range int32(3) {
			g, ok := got.Lookup("orders", p)
			w, _ := want.Lookup("orders", p)
			if !ok || g.Err != nil || g.Offset != w.Offset {
				t.Errorf("at %d, orders[%d] = %+v (listed %v), kadm says %d", at, p, g, ok, w.Offset)
			}
		}
		if _, ok := got.Lookup("orders", 3); ok {
			t.Errorf("at %d: orders[3] was not asked for, yet listed", at)
		}
		for p := range int32(2) {
			if g, ok := got.Lookup("absent", p); !ok || g.Err == nil {
				t.Errorf("at %d, absent[%d] = %+v (listed %v), want an error", at, p, g, ok)
			}
		}
	}
}
