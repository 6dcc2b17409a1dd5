package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// EnsureCompactedTopic creates a compacted single-partition topic, as MM2
// does for its internal topics, unless it exists. rf is the replication
// factor that the configuration key rfKey set.
func EnsureCompactedTopic(ctx context.Context, adm *kadm.Client, topic string, rf int16, rfKey string) error {
	// kadm returns the topic's own error, such as TOPIC_ALREADY_EXISTS.
	_, err := adm.CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic)
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	case errors.Is(err, kerr.InvalidReplicationFactor):
		// Kafka refuses more replicas than brokers; name the key to change.
		return fmt.Errorf("create internal topic %q with %s=%d: %w (the cluster has fewer brokers; -1 takes the broker's default)", topic, rfKey, rf, err)
	}
	return fmt.Errorf("create internal topic %q: %w", topic, err)
}
