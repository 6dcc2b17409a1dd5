package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// EnsureCompactedTopic creates a compacted single-partition topic, as MM2
// does for its internal topics, unless it exists.
func EnsureCompactedTopic(ctx context.Context, adm *kadm.Client, topic string, rf int16) error {
	// kadm returns the topic's own error, such as TOPIC_ALREADY_EXISTS.
	_, err := adm.CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create internal topic %q: %w", topic, err)
	}
	return nil
}
