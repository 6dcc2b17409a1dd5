package config

import "github.com/kmirror/kmirror/internal/policy"

// Internal names one of a flow's internal topics.
type Internal int

// A flow's internal topics.
const (
	InternalProgress Internal = iota
	InternalOffsetMap
	InternalOffsetSyncs
	InternalJournal
	InternalCheckpoints
	InternalHeartbeats
)

// InternalTopic is an internal topic as a flow's workers create it when
// they start (as MM2 creates its own): compacted, one partition, with the
// replication factor a key sets. The workers create it through this
// description, and kmirror preflight checks it through the same one.
type InternalTopic struct {
	// Cluster is the alias of the cluster that holds it.
	Cluster string
	Name    string
	// ReplicationFactor is what ReplicationKey sets; -1 takes the broker's
	// default.replication.factor.
	ReplicationFactor int16
	ReplicationKey    string
	// Holds says what it holds, for messages.
	Holds string
	// ReadAtStart says the workers read it back when they start.
	ReadAtStart bool
}

// InternalTopic describes one of the flow's internal topics.
func (f *Flow) InternalTopic(which Internal) InternalTopic {
	syncs := func(cluster, name, holds string) InternalTopic {
		return InternalTopic{Cluster: cluster, Name: name, ReplicationFactor: f.OffsetSyncsReplicationFactor,
			ReplicationKey: KeyOffsetSyncsReplication, Holds: holds, ReadAtStart: true}
	}
	switch which {
	case InternalOffsetSyncs:
		at, name := f.OffsetSyncs()
		holds := "MM2-format offset syncs"
		if at == f.Source {
			holds += " (" + KeyOffsetSyncsLocation + "=source)"
		}
		return syncs(at, name, holds)
	case InternalOffsetMap:
		return syncs(f.Target, f.OffsetMapTopic(), "the exact offset map")
	case InternalJournal:
		return syncs(f.Target, f.JournalTopic(), "the migration's journal")
	case InternalCheckpoints:
		return InternalTopic{Cluster: f.Target, Name: f.Replication.CheckpointsTopic(f.Source),
			ReplicationFactor: f.CheckpointsReplicationFactor, ReplicationKey: KeyCheckpointsReplication, Holds: "MM2-format checkpoints"}
	case InternalHeartbeats:
		return InternalTopic{Cluster: f.Target, Name: policy.HeartbeatsTopic,
			ReplicationFactor: f.HeartbeatsReplicationFactor, ReplicationKey: KeyHeartbeatsReplicationFactor, Holds: "MM2-format heartbeats"}
	}
	return syncs(f.Target, f.ProgressTopic(), "the copy progress")
}

// InternalTopics lists the internal topics the flow's workers create when
// they start: the progress, the offset map, the offset syncs and the
// journal always, the checkpoints and heartbeats when they are emitted.
func (f *Flow) InternalTopics() []InternalTopic {
	which := []Internal{InternalProgress, InternalOffsetMap, InternalOffsetSyncs, InternalJournal}
	if f.EmitCheckpoints {
		which = append(which, InternalCheckpoints)
	}
	if f.EmitHeartbeats {
		which = append(which, InternalHeartbeats)
	}
	out := make([]InternalTopic, len(which))
	for i, w := range which {
		out[i] = f.InternalTopic(w)
	}
	return out
}
