package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
)

// EnsureInternalTopic creates an internal topic as t describes it, unless
// it exists.
func EnsureInternalTopic(ctx context.Context, adm *kadm.Client, t config.InternalTopic) error {
	// kadm returns the topic's own error, such as TOPIC_ALREADY_EXISTS.
	_, err := CreateInternalTopic(ctx, adm, t, false)
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	case errors.Is(err, kerr.InvalidReplicationFactor):
		// Kafka refuses more replicas than brokers; name the key to change.
		return fmt.Errorf("create internal topic %q with %s=%d: %w (the cluster has fewer brokers; -1 takes the broker's default)", t.Name, t.ReplicationKey, t.ReplicationFactor, err)
	}
	return fmt.Errorf("create internal topic %q: %w", t.Name, err)
}

// CreateInternalTopic creates an internal topic as t describes it, as MM2
// creates its own: compacted, one partition. With validateOnly, the broker
// only says whether it would, and with which settings.
func CreateInternalTopic(ctx context.Context, adm *kadm.Client, t config.InternalTopic, validateOnly bool) (kadm.CreateTopicResponse, error) {
	create := adm.CreateTopics
	if validateOnly {
		create = adm.ValidateCreateTopics
	}
	resps, err := create(ctx, 1, t.ReplicationFactor, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, t.Name)
	if err != nil {
		return kadm.CreateTopicResponse{}, err
	}
	r, ok := resps[t.Name]
	if !ok {
		return r, fmt.Errorf("create internal topic %q: no answer from the broker", t.Name)
	}
	return r, r.Err
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
