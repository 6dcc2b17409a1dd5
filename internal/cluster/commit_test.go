package cluster

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// CommitOffsets commits through the IDs it is given, as kadm's does
// through the IDs it looks up, and fails a topic it has no ID of.
func TestCommitOffsets(t *testing.T) {
	ctx, cl := startClient(t)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	ids, err := TopicIDs(ctx, cl, []string{"orders", "absent"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ids["absent"]; ok || len(ids) != 1 {
		t.Fatalf("ids = %v, want orders alone", ids)
	}
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 7, LeaderEpoch: -1, Metadata: "m"})
	offsets.Add(kadm.Offset{Topic: "orders", Partition: 2, At: 9, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: "absent", Partition: 0, At: 1, LeaderEpoch: -1})
	resp, err := CommitOffsets(ctx, cl, ids, "g", offsets)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range resp.Sorted() {
		want := error(nil)
		if o.Topic == "absent" {
			want = kerr.UnknownTopicOrPartition
		}
		if !errors.Is(o.Err, want) {
			t.Errorf("%s[%d]: err %v, want %v", o.Topic, o.Partition, o.Err, want)
		}
	}
	if n := len(resp.Sorted()); n != 3 {
		t.Fatalf("%d answers, want 3", n)
	}
	fetched, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 7, 2: 9} {
		got, ok := fetched.Lookup("orders", p)
		if !ok || got.At != want {
			t.Errorf("orders[%d] committed %+v, want %d", p, got, want)
		}
	}
	if got, _ := fetched.Lookup("orders", 0); got.Metadata != "m" {
		t.Errorf("metadata %q, want m", got.Metadata)
	}
	read := CommittedOffsets(ctx, cl, []string{"g", "none"})
	// A group with no commits has none; kfake also says it does not
	// exist, as kadm reports it.
	if len(read) != 2 || read["g"].Err != nil || len(read["none"].Offsets) != 0 {
		t.Fatalf("read %+v, want g's offsets and none of group none", read)
	}
	got := map[int32]Committed{}
	for _, c := range read["g"].Offsets {
		got[c.Partition] = c
	}
	if len(got) != 2 || got[0] != (Committed{"orders", 0, 7, "m"}) || got[2] != (Committed{"orders", 2, 9, ""}) {
		t.Fatalf("read g's offsets %+v, want orders[0] at 7 (m) and orders[2] at 9", read["g"].Offsets)
	}
}
