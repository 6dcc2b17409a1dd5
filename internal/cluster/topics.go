package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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

// ScanTopic reads a whole topic, typically a compacted one holding state,
// giving each data record, tombstones included, to take, in the order of
// each partition. A topic that does not exist holds nothing.
func ScanTopic(ctx context.Context, opts []kgo.Opt, topic string, take func(*kgo.Record)) error {
	t, err := NewTail(opts, topic, take)
	if err != nil {
		return err
	}
	defer t.Close()
	return t.CatchUp(ctx)
}
