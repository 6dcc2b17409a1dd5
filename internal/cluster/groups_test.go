package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DescribeGroups describes groups of both protocols: classic DescribeGroups
// alone shows a KIP-848 group with no members (kfake) or as unknown
// (Kafka 4), so that an active group looked empty.
func TestDescribeGroups(t *testing.T) {
	addrs := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	// join starts a member of group and waits until it has partitions.
	join := func(group string, opts ...kgo.Opt) *kgo.Client {
		t.Helper()
		assigned := make(chan struct{}, 1)
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"),
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
				select {
				case assigned <- struct{}{}:
				default:
				}
			})}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		go cl.PollFetches(ctx)
		select {
		case <-assigned:
		case <-ctx.Done():
			t.Fatalf("%s: no partitions assigned", group)
		}
		return cl
	}
	kip848 := []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer())}
	join("classic-active")
	join("consumer-active", kip848...)
	join("classic-left").Close()
	join("consumer-left", kip848...).Close()
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 1, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "committed-only", o); err != nil {
		t.Fatal(err)
	}

	got, err := DescribeGroups(ctx, adm, "classic-active", "consumer-active", "classic-left", "consumer-left", "committed-only", "absent")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		group   string
		members int
		active  bool
	}{
		{"classic-active", 1, true},
		{"consumer-active", 1, true},
		{"classic-left", 0, false},
		{"consumer-left", 0, false},
		{"committed-only", 0, false},
		{"absent", 0, false},
	} {
		t.Run(c.group, func(t *testing.T) {
			g, ok := got[c.group]
			if !ok {
				t.Fatal("not described")
			}
			if g.Err != nil || g.Members != c.members || g.Active() != c.active {
				t.Errorf("got %+v (active %v), want %d members, active %v", g, g.Active(), c.members, c.active)
			}
		})
	}
}
