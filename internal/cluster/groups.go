package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Group states both protocols share.
const (
	GroupEmpty = "Empty"
	GroupDead  = "Dead" // no such group
)

// Group is a consumer group as its coordinator describes it, whichever
// protocol its members speak.
type Group struct {
	State   string // Kafka's name of the group's state
	Members int
	Err     error
}

// Active reports whether the group has members.
func (g Group) Active() bool {
	return g.Err == nil && (g.Members > 0 || (g.State != GroupEmpty && g.State != GroupDead && g.State != ""))
}

// DescribeGroups describes groups of either protocol. DescribeGroups
// (classic) does not describe a KIP-848 group: Kafka 4 answers
// GROUP_ID_NOT_FOUND, older versions "Dead", kfake a state without members
// or protocol type. Those groups are described again with
// ConsumerGroupDescribe, which a broker without KIP-848 refuses (Kafka 3.9
// with UNSUPPORTED_VERSION): it has no such groups. A group that exists
// under neither protocol is Dead.
func DescribeGroups(ctx context.Context, adm *kadm.Client, names ...string) (map[string]Group, error) {
	classic, err := adm.DescribeGroups(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Group, len(names))
	var others []string
	for _, name := range names {
		d, ok := classic[name]
		switch {
		case !ok:
			out[name] = Group{Err: errors.New("no answer from the broker")}
		case errors.Is(d.Err, kerr.GroupIDNotFound):
			out[name] = Group{State: GroupDead}
			others = append(others, name)
		default:
			out[name] = Group{State: d.State, Members: len(d.Members), Err: d.Err}
			if d.Err == nil && (d.State == GroupDead || d.State == "" || d.ProtocolType == "" && d.State != GroupEmpty) {
				others = append(others, name)
			}
		}
	}
	if len(others) == 0 {
		return out, nil
	}
	described, err := adm.DescribeConsumerGroups(ctx, others...)
	if withoutKIP848(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe consumer-protocol groups: %w", err)
	}
	for _, name := range others {
		d, ok := described[name]
		if !ok || errors.Is(d.Err, kerr.GroupIDNotFound) || withoutKIP848(d.Err) {
			continue // a classic group, or none
		}
		out[name] = Group{State: d.State, Members: len(d.Members), Err: d.Err}
	}
	return out, nil
}

// withoutKIP848 reports whether err says that the broker has no
// ConsumerGroupDescribe: Kafka 3.x answers UNSUPPORTED_VERSION, and franz-go
// refuses to send it to a broker that does not list it, with an error it
// does not export.
func withoutKIP848(err error) bool {
	return err != nil && (errors.Is(err, kerr.UnsupportedVersion) || strings.Contains(err.Error(), "broker is too old"))
}
