package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/kmirror/kmirror/internal/policy"
)

// Names of the MM2 connector keys kmirror applies. They are shared by the
// loaders, the error messages, the documentation test and the tests.
const (
	KeyTasksMax                    = "tasks.max"
	KeyTopics                      = "topics"
	KeyTopicsExclude               = "topics.exclude"
	KeyGroups                      = "groups"
	KeyGroupsExclude               = "groups.exclude"
	KeyConfigPropertiesExclude     = "config.properties.exclude"
	KeyReplicationPolicyClass      = "replication.policy.class"
	KeyReplicationPolicySeparator  = "replication.policy.separator"
	KeyInternalTopicSeparator      = "replication.policy.internal.topic.separator.enabled"
	KeyReplicationFactor           = "replication.factor"
	KeyHeartbeatsReplicationFactor = "heartbeats.topic.replication.factor"
	KeyCheckpointsReplication      = "checkpoints.topic.replication.factor"
	KeyOffsetSyncsReplication      = "offset-syncs.topic.replication.factor"
	KeyOffsetSyncsLocation         = "offset-syncs.topic.location"
	KeyEmitOffsetSyncs             = "emit.offset-syncs.enabled"
	KeyOffsetLagMax                = "offset.lag.max"
	KeyTopicCreation               = "topic.creation.enable"
	KeySyncTopicConfigs            = "sync.topic.configs.enabled"
	KeySyncTopicConfigsInterval    = "sync.topic.configs.interval.seconds"
	KeySyncTopicACLs               = "sync.topic.acls.enabled"
	KeySyncTopicACLsInterval       = "sync.topic.acls.interval.seconds"
	KeyRefreshTopics               = "refresh.topics.enabled"
	KeyRefreshTopicsInterval       = "refresh.topics.interval.seconds"
	KeyRefreshGroups               = "refresh.groups.enabled"
	KeyRefreshGroupsInterval       = "refresh.groups.interval.seconds"
	KeyEmitHeartbeats              = "emit.heartbeats.enabled"
	KeyEmitHeartbeatsInterval      = "emit.heartbeats.interval.seconds"
	KeyEmitCheckpoints             = "emit.checkpoints.enabled"
	KeyEmitCheckpointsInterval     = "emit.checkpoints.interval.seconds"
	KeySyncGroupOffsets            = "sync.group.offsets.enabled"
	KeySyncGroupOffsetsInterval    = "sync.group.offsets.interval.seconds"
	// KeyOvertakenPolicy is kmirror's own: what to do when the source's
	// retention deletes records before they were copied.
	KeyOvertakenPolicy = "retention.overtaken.policy"
	// KeyThrottle is kmirror's own: a cap on the bytes a worker reads from
	// the source for a flow.
	KeyThrottle = "throttle.bytes.per.second"
	// KeyProvenanceHeader is kmirror's own: stamp each copy with the
	// source cluster's id, and skip records stamped with the target's.
	KeyProvenanceHeader = "provenance.header.enabled"
	// KeyBatchForwarding is kmirror's own: which source batches are
	// written on as they are, their compressed records unchanged.
	KeyBatchForwarding = "batch.forwarding"
	// The Kafka Connect worker's group timings; kmirror's workers share a
	// flow's partitions through a group on the target with them.
	KeySessionTimeout    = "session.timeout.ms"
	KeyHeartbeatInterval = "heartbeat.interval.ms"
	KeyRebalanceTimeout  = "rebalance.timeout.ms"
	// Exactly-once mode: MM2's connector key (requested or required), the
	// Connect key for the commit interval, and kmirror's own number of
	// transactional slots. The worker key that turns the mode on is
	// KeyExactlyOnceSource.
	KeyExactlyOnce         = "exactly.once.support"
	KeyTransactionInterval = "transaction.boundary.interval.ms"
	KeyTransactionSlots    = "transaction.slots"
)

// Names of MM2 connector keys kmirror accepts and ignores; ConnectorKeys
// says why.
const (
	// KeyCheckpointTasksMax is how a properties file or a native config sets
	// the checkpoint connector's tasks.max; Strimzi resources use
	// checkpointConnector.tasksMax.
	KeyCheckpointTasksMax = "checkpoint.tasks.max"
)

// Key describes one MM2 connector key: its defaults and how kmirror uses it.
type Key struct {
	Name       string
	MM2Default string
	Default    string // kmirror's default; "" when the key has no effect
	// Why explains a default that differs from MM2's, or why the key has
	// no effect in kmirror.
	Why string
	// apply parses a value into the settings; nil when the key is accepted
	// but has no effect.
	apply func(s *Settings, v string) error
}

// Effective reports whether kmirror applies the key.
func (k Key) Effective() bool { return k.apply != nil }

// ConnectorKeys are the MM2 connector keys, in documentation order.
var ConnectorKeys = []Key{
	{Name: KeyTasksMax, MM2Default: "1", Default: "32", Why: "the seed's recommended value; a task is a goroutine pair, not a Connect task",
		apply: func(s *Settings, v string) error { return setNumber(&s.TasksMax, v, 1) }},
	{Name: KeyTopics, MM2Default: ".*", Default: ".*",
		apply: func(s *Settings, v string) error { return setPattern(&s.Topics, v) }},
	{Name: KeyTopicsExclude, MM2Default: `.*[\-\.]internal, .*\.replica, __.*`, Default: `.*[\-\.]internal, .*\.replica, __.*`,
		apply: func(s *Settings, v string) error { return setPattern(&s.TopicsExclude, v) }},
	{Name: KeyGroups, MM2Default: ".*", Default: ".*",
		apply: func(s *Settings, v string) error { return setPattern(&s.Groups, v) }},
	{Name: KeyGroupsExclude, MM2Default: "console-consumer-.*, connect-.*, __.*", Default: "console-consumer-.*, connect-.*, __.*",
		apply: func(s *Settings, v string) error { return setPattern(&s.GroupsExclude, v) }},
	{Name: KeyConfigPropertiesExclude, MM2Default: defaultConfigExclude, Default: defaultConfigExclude,
		apply: func(s *Settings, v string) error { return setPattern(&s.ConfigPropertiesExclude, v) }},
	{Name: KeyReplicationPolicyClass, MM2Default: policy.DefaultClass, Default: policy.DefaultClass,
		apply: func(s *Settings, v string) error { s.Replication.Class = strings.TrimSpace(v); return nil }},
	{Name: KeyReplicationPolicySeparator, MM2Default: ".", Default: ".",
		apply: func(s *Settings, v string) error { s.Replication.Separator = v; return nil }},
	{Name: KeyInternalTopicSeparator, MM2Default: "true", Default: "true",
		apply: func(s *Settings, v string) error { return setBool(&s.internalSeparator, v) }},
	{Name: KeyReplicationFactor, MM2Default: "2", Default: "-1", Why: "-1 takes the target broker's default.replication.factor, right for one broker and for many",
		apply: func(s *Settings, v string) error { return setReplicationFactor(&s.ReplicationFactor, v) }},
	{Name: KeyHeartbeatsReplicationFactor, MM2Default: "3", Default: "-1", Why: "the broker's default, as for replication.factor",
		apply: func(s *Settings, v string) error { return setReplicationFactor(&s.HeartbeatsReplicationFactor, v) }},
	{Name: KeyCheckpointsReplication, MM2Default: "3", Default: "-1", Why: "the broker's default, as for replication.factor",
		apply: func(s *Settings, v string) error { return setReplicationFactor(&s.CheckpointsReplicationFactor, v) }},
	{Name: KeyOffsetSyncsReplication, MM2Default: "3", Default: "-1", Why: "the broker's default, as for replication.factor",
		apply: func(s *Settings, v string) error { return setReplicationFactor(&s.OffsetSyncsReplicationFactor, v) }},
	{Name: KeyOffsetSyncsLocation, MM2Default: "source", Default: "target", Why: "least privilege: kmirror then needs only read access to the source",
		apply: func(s *Settings, v string) error { return setEnum(&s.OffsetSyncsLocation, v, "source", "target") }},
	{Name: KeyTopicCreation, MM2Default: "true", Default: "true", Why: "a Connect worker key that MM2 ignores; kmirror honours it: false never creates target topics",
		apply: func(s *Settings, v string) error { return setBool(&s.TopicCreation, v) }},
	{Name: KeySyncTopicConfigs, MM2Default: "true", Default: "true",
		apply: func(s *Settings, v string) error { return setBool(&s.SyncTopicConfigs, v) }},
	{Name: KeySyncTopicConfigsInterval, MM2Default: "600", Default: "60", Why: "config changes reach the target in a minute, not ten",
		apply: func(s *Settings, v string) error { return setSeconds(&s.SyncTopicConfigsInterval, v) }},
	{Name: KeySyncTopicACLs, MM2Default: "true", Default: "true",
		apply: func(s *Settings, v string) error { return setBool(&s.SyncTopicACLs, v) }},
	{Name: KeySyncTopicACLsInterval, MM2Default: "600", Default: "60", Why: "ACL changes reach the target in a minute, not ten",
		apply: func(s *Settings, v string) error { return setSeconds(&s.SyncTopicACLsInterval, v) }},
	{Name: KeyRefreshTopics, MM2Default: "true", Default: "true",
		apply: func(s *Settings, v string) error { return setBool(&s.RefreshTopics, v) }},
	{Name: KeyRefreshTopicsInterval, MM2Default: "600", Default: "5", Why: "a new topic or partition starts replicating within seconds",
		apply: func(s *Settings, v string) error { return setSeconds(&s.RefreshTopicsInterval, v) }},
	{Name: KeyRefreshGroups, MM2Default: "true", Default: "true",
		apply: func(s *Settings, v string) error { return setBool(&s.RefreshGroups, v) }},
	{Name: KeyRefreshGroupsInterval, MM2Default: "600", Default: "5", Why: "a new consumer group is checkpointed within seconds",
		apply: func(s *Settings, v string) error { return setSeconds(&s.RefreshGroupsInterval, v) }},
	{Name: KeyEmitHeartbeats, MM2Default: "true", Default: "true",
		apply: func(s *Settings, v string) error { return setBool(&s.EmitHeartbeats, v) }},
	{Name: KeyEmitHeartbeatsInterval, MM2Default: "1", Default: "1",
		apply: func(s *Settings, v string) error { return setSeconds(&s.EmitHeartbeatsInterval, v) }},
	{Name: KeyEmitOffsetSyncs, MM2Default: "true", Default: "true",
		Why:   "MM2-format offset syncs, for MirrorMaker 2 and the tools that read them; false writes none (kmirror's own exact offset map, in a topic of its own, is always kept: resuming and translating depend on it)",
		apply: func(s *Settings, v string) error { return setBool(&s.EmitOffsetSyncs, v) }},
	{Name: KeyOffsetLagMax, MM2Default: "100", Default: "100",
		Why:   "how many records apart kmirror's MM2-format offset syncs lie at most (and one at each gap), each exact, so that MM2 translates kmirror's range at least as well as its own",
		apply: func(s *Settings, v string) error { return setNumberBetween(&s.OffsetLagMax, v, 1, 1<<31-1) }},
	{Name: KeyEmitCheckpoints, MM2Default: "true", Default: "true",
		apply: func(s *Settings, v string) error { return setBool(&s.EmitCheckpoints, v) }},
	{Name: KeyEmitCheckpointsInterval, MM2Default: "60", Default: "1", Why: "a source commit reaches the target within seconds",
		apply: func(s *Settings, v string) error { return setSeconds(&s.EmitCheckpointsInterval, v) }},
	{Name: KeySyncGroupOffsets, MM2Default: "false", Default: "false",
		apply: func(s *Settings, v string) error { return setBool(&s.SyncGroupOffsets, v) }},
	{Name: KeySyncGroupOffsetsInterval, MM2Default: "60", Default: "1", Why: "a source commit reaches the target group within seconds",
		apply: func(s *Settings, v string) error { return setSeconds(&s.SyncGroupOffsetsInterval, v) }},
	{Name: KeyOvertakenPolicy, MM2Default: "", Default: "stop",
		Why:   "kmirror only. When the source deletes records before they were copied: stop copying that partition (an error until an operator acts), or skip to the new log start and record the gap; either way logged and counted. MM2 skips silently",
		apply: func(s *Settings, v string) error { return setEnum(&s.OvertakenPolicy, v, "stop", "skip") }},

	{Name: KeyThrottle, MM2Default: "", Default: "0",
		Why:   "kmirror only. Caps the bytes each worker fetches from the source for the flow, per second (record batches as stored, compressed or not), to protect the source next to its broker quotas; 0 is no cap",
		apply: func(s *Settings, v string) error { return setNumber(&s.ThrottleBytesPerSecond, v, 0) }},

	{Name: KeyProvenanceHeader, MM2Default: "", Default: "false",
		Why: "kmirror only. Adds a header kmirror.origin (the source cluster's id) to every copy, and skips the source records whose header names the target: " +
			"copies never come back, across separate configurations and without exactly-once mode, at the price of one header on the data",
		apply: func(s *Settings, v string) error { return setBool(&s.ProvenanceHeader, v) }},
	{Name: KeyBatchForwarding, MM2Default: "", Default: ForwardAny,
		Why: "kmirror only. any: a source batch that needs no change is written on as it is, in its own codec, without decompressing it; " +
			"same-codec: only batches of producer.compression.type's codec are, the others are re-encoded with it (what MM2 writes); off: every batch is re-encoded, as MM2 does. " +
			"Exactly-once mode and provenance headers re-encode every batch",
		apply: func(s *Settings, v string) error {
			return setEnum(&s.BatchForwarding, strings.TrimSpace(v), ForwardAny, ForwardSameCodec, ForwardOff)
		}},

	{Name: KeySessionTimeout, MM2Default: "10000", Default: "10000",
		Why:   "a Connect worker key: a worker that stops heartbeating for this long loses its partitions to the other workers of the flow",
		apply: func(s *Settings, v string) error { return setMillisAtLeast(&s.SessionTimeout, v, 1000) }},
	{Name: KeyHeartbeatInterval, MM2Default: "3000", Default: "1000",
		Why:   "a Connect worker key; heartbeats also renew a worker's right to write, so kmirror sends them more often than Connect",
		apply: func(s *Settings, v string) error { return setMillisAtLeast(&s.HeartbeatInterval, v, 100) }},
	{Name: KeyExactlyOnce, MM2Default: "requested", Default: "requested",
		Why: "requested runs the flow exactly-once when the target cluster's config says exactly.once.source.support: enabled; required refuses to run without it, as MM2 refuses the connector",
		apply: func(s *Settings, v string) error {
			return setEnum(&s.exactlyOnceSupport, strings.TrimSpace(v), "requested", "required")
		}},
	{Name: KeyTransactionInterval, MM2Default: "60000", Default: "1000",
		Why: "in exactly-once mode, how often each slot commits its transaction: what read_committed readers wait for at most; MM2 defaults to offset.flush.interval.ms",
		apply: func(s *Settings, v string) error {
			if err := setMillisAtLeast(&s.TransactionInterval, v, 10); err != nil {
				return err
			}
			if s.TransactionInterval > 5*time.Minute {
				return fmt.Errorf("%q must be at most 300000: a slot's transaction stays open three times as long, and brokers allow 15 minutes (transaction.max.timeout.ms)", v)
			}
			return nil
		}},
	{Name: KeyTransactionSlots, MM2Default: "", Default: "8",
		Why: "kmirror only. In exactly-once mode, the flow's partitions fall into this many slots, each with its own transactional.id, shared out by the workers' group; " +
			"workers with other counts cannot join them: change it with every worker stopped",
		apply: func(s *Settings, v string) error { return setNumberBetween(&s.TransactionSlots, v, 1, 1024) }},

	{Name: KeyRebalanceTimeout, MM2Default: "60000", Default: "60000",
		Why:   "a Connect worker key: how long a rebalance waits for the workers to rejoin",
		apply: func(s *Settings, v string) error { return setMillisAtLeast(&s.RebalanceTimeout, v, 1000) }},

	// MM2 keys kmirror understands and does not need.
	{Name: KeyCheckpointTasksMax, MM2Default: "1", Why: "kmirror translates every group of a flow in one loop per worker; the group offsets of a flow are fetched in one request"},
	{Name: "consumer.poll.timeout.ms", MM2Default: "1000", Why: "kmirror fetches continuously"},
	{Name: "admin.timeout.ms", MM2Default: "60000", Why: "admin requests use the client's request timeouts"},
	{Name: "source.cluster.alias", Why: "the flow's source alias is used"},
	{Name: "target.cluster.alias", MM2Default: "target", Why: "the flow's target alias is used"},
	{Name: "enabled", MM2Default: "true", Why: "every flow in the configuration runs; in properties files, use A->B.enabled"},
	{Name: "heartbeats.replication.enabled", MM2Default: "true", Why: "heartbeat topics are replicated when the topic filter selects them"},
	{Name: "use.incremental.alter.configs", MM2Default: "requested", Why: "kmirror always uses IncrementalAlterConfigs"},
	{Name: "add.source.alias.to.metrics", MM2Default: "false", Why: "metrics always carry the source label"},
	{Name: "topic.filter.class", MM2Default: "org.apache.kafka.connect.mirror.DefaultTopicFilter", Why: "only the default filter exists; use topics and topics.exclude"},
	{Name: "group.filter.class", MM2Default: "org.apache.kafka.connect.mirror.DefaultGroupFilter", Why: "only the default filter exists; use groups and groups.exclude"},
	{Name: "config.property.filter.class", MM2Default: "org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter", Why: "only the default filter exists; use config.properties.exclude"},
	{Name: "forwarding.admin.class", MM2Default: "org.apache.kafka.clients.admin.ForwardingAdmin", Why: "kmirror has no pluggable admin client"},
	{Name: "use.defaults.from", MM2Default: "target", Why: "topic config sync copies only values set on the source topic"},
	{Name: "transaction.boundary", MM2Default: "poll", Why: "kmirror commits each slot's transaction every transaction.boundary.interval.ms: a transaction per poll would write a marker per partition per fetch"},
}

const defaultConfigExclude = `follower\.replication\.throttled\.replicas, leader\.replication\.throttled\.replicas, message\.timestamp\.difference\.max\.ms, message\.timestamp\.type, unclean\.leader\.election\.enable, min\.insync\.replicas`

// deprecatedKeys are MM2's old names, mapped to their current names.
var deprecatedKeys = map[string]string{
	"topics.blacklist":            KeyTopicsExclude,
	"groups.blacklist":            KeyGroupsExclude,
	"config.properties.blacklist": KeyConfigPropertiesExclude,
}

// KeyExactlyOnceSource is the Kafka Connect worker key (KIP-618) that
// turns exactly-once mode on: enabled in the target cluster's config, or
// at the top of an MM2 properties file.
const KeyExactlyOnceSource = "exactly.once.source.support"

// The Kafka Connect worker keys a takeover from MirrorMaker 2 reads in the
// Connect cluster's config.
const (
	keyConnectOffsetsTopic = "offset.storage.topic"
	keyConnectGroup        = "group.id"
	// keyConnectOffsetsReplication is read by 'kmirror migrate hand-back',
	// which creates the offsets topic as the Connect worker would.
	keyConnectOffsetsReplication = "offset.storage.replication.factor"
)

// connectOnlyKeys mean something to a Kafka Connect worker or connector and
// nothing to kmirror. Entries ending in "." are prefixes.
var connectOnlyKeys = []string{
	"config.storage.topic", "offset.storage.topic", "status.storage.topic",
	"config.storage.replication.factor", "offset.storage.replication.factor", "status.storage.replication.factor",
	"offset.storage.partitions", "status.storage.partitions",
	"offset.flush.timeout.ms", "offset.flush.interval.ms", "task.shutdown.graceful.timeout.ms",
	"key.converter", "value.converter", "header.converter", "key.converter.", "value.converter.", "header.converter.",
	"group.id", "plugin.path", "plugin.discovery", "listeners", "rest.", "admin.listeners",
	"connector.client.config.override.policy", "dedicated.mode.enable.internal.rest",
	"scheduled.rebalance.max.delay.ms", "worker.sync.timeout.ms",
	"worker.unsync.backoff.ms",
	"name", "connector.class", "transforms", "transforms.", "predicates", "predicates.", "errors.",
	"tasks.max.enforce", "config.action.reload", "config.providers", "config.providers.",
	"metric.reporters", "metrics.", "auto.include.jmx.reporter", "topic.creation.", "consumer.override.", "producer.override.", "admin.override.",
}

func isConnectOnly(key string) bool {
	for _, k := range connectOnlyKeys {
		if key == k || (strings.HasSuffix(k, ".") && strings.HasPrefix(key, k)) {
			return true
		}
	}
	return false
}

func connectorKey(name string) (Key, bool) {
	for _, k := range ConnectorKeys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

func setBool(dst *bool, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return fmt.Errorf("%q is not true or false", v)
	}
	return nil
}

func parseInt(v string, bits int) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is out of range", v)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	return n, nil
}

// setNumber parses an integer that fits *dst and is at least min.
func setNumber[T ~int | ~int16 | ~int32 | ~int64](dst *T, v string, min int64) error {
	n, err := parseInt(v, int(unsafe.Sizeof(*dst))*8)
	if err != nil {
		return err
	}
	if n < min {
		return fmt.Errorf("%q must be at least %d", v, min)
	}
	*dst = T(n)
	return nil
}

func setNumberBetween(dst *int, v string, lo, hi int64) error {
	var n int
	if err := setNumber(&n, v, lo); err != nil {
		return err
	}
	if int64(n) > hi {
		return fmt.Errorf("%q must be at most %d", v, hi)
	}
	*dst = n
	return nil
}

func setReplicationFactor(dst *int16, v string) error {
	n, err := parseInt(v, 16)
	if err != nil {
		return err
	}
	if n == 0 || n < -1 {
		return fmt.Errorf("%q must be -1 (the broker's default) or at least 1", v)
	}
	*dst = int16(n)
	return nil
}

func setSeconds(dst *time.Duration, v string) error {
	n, err := parseInt(v, 32)
	if err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("%q must be at least 1 second", v)
	}
	*dst = time.Duration(n) * time.Second
	return nil
}

func setMillisAtLeast(dst *time.Duration, v string, min int64) error {
	var ms int64
	if err := setNumber(&ms, v, min); err != nil {
		return err
	}
	*dst = time.Duration(ms) * time.Millisecond
	return nil
}

func setEnum(dst *string, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			*dst = v
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

func setPattern(dst *policy.Pattern, v string) error {
	p, err := policy.Compile(v)
	if err != nil {
		return err
	}
	*dst = p
	return nil
}
