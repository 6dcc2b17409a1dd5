package workgroup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Worker is one member of a workers' group, as its coordinator describes
// it: what a reader outside the workers can tell of who runs a flow.
type Worker struct {
	// ID is the member id; Client the client id and Host the address the
	// coordinator sees the worker connect from.
	ID     string `json:"id"`
	Client string `json:"client"`
	Host   string `json:"host"`
	// Holds is what the group's leader gave the worker at the last
	// rebalance: source partitions by topic, or (in exactly-once mode)
	// transaction slots under the name Slots.
	Holds Partitions `json:"holds"`
}

// Slots is the name under which a group of exactly-once workers shares
// out its transaction slots, as if they were the partitions of a topic.
const Slots = "kmirror/slots"

// Describe lists the members of group: none when no worker runs in it (or
// it never existed).
func Describe(ctx context.Context, adm *kadm.Client, group string) ([]Worker, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("describe the workers' group %q: %w", group, err)
	}
	g, ok := described[group]
	if !ok {
		return nil, nil
	}
	switch {
	case errors.Is(g.Err, kerr.GroupIDNotFound):
		return nil, nil // DescribeGroups v6 (Kafka 4) says so of a group no worker ever joined
	case g.Err != nil:
		return nil, fmt.Errorf("describe the workers' group %q: %w", group, g.Err)
	}
	var out []Worker
	for _, m := range g.Members {
		w := Worker{ID: m.MemberID, Client: m.ClientID, Host: m.ClientHost, Holds: Partitions{}}
		// A member that joined but has no assignment yet holds nothing.
		if raw, ok := m.Assigned.Raw(); ok && len(raw) > 0 {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(raw); err == nil {
				for _, t := range a.Topics {
					w.Holds[t.Topic] = slices.Sorted(slices.Values(t.Partitions))
				}
			}
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b Worker) int { return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}
