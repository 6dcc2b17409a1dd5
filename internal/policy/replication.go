package policy

import (
	"fmt"
	"strings"
)

// The class names MM2 configurations use for the replication policies, and
// kmirror's short names for them.
const (
	DefaultClass         = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
	IdentityClass        = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
	StrimziIdentityClass = "io.strimzi.kafka.connect.mirror.IdentityReplicationPolicy"
	DefaultName          = "default"
	IdentityName         = "identity"
)

// DefaultSeparator is MM2's replication.policy.separator default.
const DefaultSeparator = "."

// HeartbeatsTopic is the topic heartbeats are written to on the target.
const HeartbeatsTopic = "heartbeats"

// Replication maps topic names between a source and the target, as an MM2
// ReplicationPolicy does.
type Replication struct {
	// Class is the name the configuration used, kept for display.
	Class string
	// Separator joins a source alias and a topic in remote topic names.
	Separator string
	// InternalSeparator joins the parts of internal topic names: Separator
	// when replication.policy.internal.topic.separator.enabled (MM2's
	// default), "." otherwise.
	InternalSeparator string
	// identity keeps names unchanged; heartbeatsRenamed says whether it
	// still renames heartbeat topics, as Kafka's IdentityReplicationPolicy
	// does and Strimzi's does not.
	identity          bool
	heartbeatsRenamed bool
}

// ClassNames lists every accepted replication.policy.class value.
var ClassNames = []string{DefaultClass, IdentityClass, StrimziIdentityClass, DefaultName, IdentityName}

// NewReplication returns the policy for a replication.policy.class value.
// internalSeparator says whether internal topic names use the separator too.
func NewReplication(class, separator string, internalSeparator bool) (Replication, error) {
	if separator == "" {
		return Replication{}, fmt.Errorf("the separator must not be empty")
	}
	r := Replication{Class: class, Separator: separator, InternalSeparator: DefaultSeparator}
	if internalSeparator {
		r.InternalSeparator = separator
	}
	switch strings.TrimSpace(class) {
	case DefaultClass, DefaultName:
	case IdentityClass, IdentityName:
		r.identity, r.heartbeatsRenamed = true, true
	case StrimziIdentityClass:
		r.identity = true
	default:
		return Replication{}, fmt.Errorf("%q is not a supported replication policy (one of %s)", class, strings.Join(ClassNames, ", "))
	}
	return r, nil
}

// Identity reports whether topics keep their names on the target.
func (r Replication) Identity() bool { return r.identity }

// Name is the short name of the policy: "default" or "identity".
func (r Replication) Name() string {
	if r.identity {
		return IdentityName
	}
	return DefaultName
}

// RemoteTopic is the name on the target of topic from the source cluster
// sourceAlias.
func (r Replication) RemoteTopic(sourceAlias, topic string) string {
	if r.identity && !(r.heartbeatsRenamed && r.isHeartbeats(topic)) {
		return topic
	}
	return sourceAlias + r.Separator + topic
}

// TopicSource returns the alias of the cluster a remote topic was copied
// from, or "" when the name does not look like a remote topic. It lets
// discovery skip topics that would copy back where they came from.
func (r Replication) TopicSource(topic string) string {
	if r.identity && !(r.heartbeatsRenamed && r.isHeartbeats(topic)) {
		return ""
	}
	source, _, ok := strings.Cut(topic, r.Separator)
	if !ok || source == "" {
		return ""
	}
	return source
}

func (r Replication) isHeartbeats(topic string) bool {
	return strings.HasSuffix(topic, HeartbeatsTopic)
}

// CheckpointsTopic is the name of the checkpoints topic on the target for the
// source cluster sourceAlias.
func (r Replication) CheckpointsTopic(sourceAlias string) string {
	return sourceAlias + r.InternalSeparator + "checkpoints" + r.InternalSeparator + "internal"
}

// OffsetSyncsTopic is the name of the offset-syncs topic. As in MM2, it is
// named after the other cluster of the flow: the target alias when the topic
// lives on the source cluster, the source alias when it lives on the target.
func (r Replication) OffsetSyncsTopic(otherAlias string) string {
	return "mm2-offset-syncs" + r.InternalSeparator + otherAlias + r.InternalSeparator + "internal"
}

// IsInternal reports whether a topic is internal to Kafka, Connect or MM2
// and so never replicated, whatever the filters say.
func IsInternal(topic string) bool {
	return strings.HasPrefix(topic, "__") || strings.HasPrefix(topic, ".") ||
		strings.HasSuffix(topic, ".internal") || strings.HasSuffix(topic, "-internal")
}
