package discover

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/policy"
)

// protocolConsumer is the protocol type of the groups a flow follows.
const protocolConsumer = "consumer"

// SelectGroups lists the consumer groups of the source cluster (named
// alias, for errors) that filter selects, sorted: the groups a flow
// follows.
func SelectGroups(ctx context.Context, src *kadm.Client, alias string, filter policy.Filter) ([]string, error) {
	groups, err := src.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups of %q: %w", alias, err)
	}
	var out []string
	for _, g := range groups.Sorted() {
		if g.ProtocolType != protocolConsumer && g.ProtocolType != "" {
			continue
		}
		if v, err := filter.Select(g.Group); err == nil && v.Selected {
			out = append(out, g.Group)
		}
	}
	return out, nil
}
