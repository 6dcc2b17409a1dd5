package preflight

import (
	"cmp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// Resource types and pattern types, as Strimzi's KafkaUser spells them.
const (
	TypeTopic           = "topic"
	TypeGroup           = "group"
	TypeCluster         = "cluster"
	TypeTransactionalID = "transactionalId"

	Literal  = "literal"
	Prefixed = "prefix"
)

// Resource is what an ACL applies to: a topic or group by literal name or
// prefix, or the cluster.
type Resource struct {
	Type    string `json:"type"`
	Name    string `json:"name,omitempty"` // empty for the cluster; "*" is every name
	Pattern string `json:"patternType"`
}

func (r Resource) String() string {
	switch {
	case r.Type == TypeCluster:
		return TypeCluster
	case r.Pattern == Prefixed:
		return r.Type + ":" + r.Name + "*"
	}
	return r.Type + ":" + r.Name
}

// Operations, as Strimzi's KafkaUser and Kafka's ACLs name them.
const (
	OpRead            = "Read"
	OpWrite           = "Write"
	OpCreate          = "Create"
	OpDescribe        = "Describe"
	OpAlter           = "Alter"
	OpDescribeConfigs = "DescribeConfigs"
	OpAlterConfigs    = "AlterConfigs"
	OpIdempotentWrite = "IdempotentWrite"
)

var kafkaOps = map[string]kmsg.ACLOperation{
	OpRead: kmsg.ACLOperationRead, OpWrite: kmsg.ACLOperationWrite, OpCreate: kmsg.ACLOperationCreate,
	OpDescribe: kmsg.ACLOperationDescribe, OpAlter: kmsg.ACLOperationAlter,
	OpDescribeConfigs: kmsg.ACLOperationDescribeConfigs, OpAlterConfigs: kmsg.ACLOperationAlterConfigs,
	OpIdempotentWrite: kmsg.ACLOperationIdempotentWrite,
}

// Need is one permission kmirror needs on one cluster, and why.
type Need struct {
	Cluster   string   `json:"cluster"` // the cluster's alias
	Resource  Resource `json:"resource"`
	Operation string   `json:"operation"`
	Why       string   `json:"why"`
	// Optional needs make a check possible or a command nicer; kmirror
	// runs without them, so their absence fails nothing.
	Optional bool `json:"optional,omitempty"`
	// ByTopicWrite: Kafka 3.0 and later grant it to a user that may
	// Write to any topic (KIP-679), so a KafkaUser need not name it.
	ByTopicWrite bool `json:"-"`
}

// Scope names the resources of one flow that the needs apply to: the
// topics and groups it selects now (to check), or the names and prefixes
// its patterns allow (for a KafkaUser).
type Scope struct {
	SourceTopics []Resource
	// TargetTopics are the mirrored topics on the target; CreateTopics
	// those of them kmirror would create.
	TargetTopics []Resource
	CreateTopics []Resource
	Groups       []Resource
	// MM2Topics and MM2Groups are where a MirrorMaker 2 that copied the
	// flow before left its positions, and its workers' groups, on the
	// target (mm2.Look): what a takeover reads.
	MM2Topics, MM2Groups []string
	// Rollback says `kmirror migrate rollback` is asked for: it commits
	// the groups' offsets on the source, which the copy never does.
	Rollback bool
	// HandBack says `kmirror migrate hand-back` is asked for: it writes
	// MirrorMaker 2's positions into its Connect offsets topic, HandBackTopic.
	HandBack      bool
	HandBackTopic string
}

// WithMM2 adds to s what a takeover from MirrorMaker 2 reads on tgt, the
// flow's target cluster.
func (s Scope) WithMM2(f *config.Flow, tgt *config.Cluster) Scope {
	s.MM2Topics, s.MM2Groups = mm2.Look(f.Source, tgt.ConnectOffsetsTopic, tgt.ConnectGroup)
	return s
}

// WithHandBack adds to s, when handBack is set, what `kmirror migrate
// hand-back` needs for flow f of cfg: the Connect offsets topic MM2
// started on cfg reads.
func (s Scope) WithHandBack(handBack bool, cfg *config.Config, f *config.Flow) Scope {
	if handBack {
		s.HandBack = true
		s.HandBackTopic = mm2.LayoutOf(f.Source, f.Target, cfg.Cluster(f.Target).ConnectOffsetsTopic, cfg.Format != config.FormatProperties).OffsetsTopic
	}
	return s
}

var theCluster = Resource{Type: TypeCluster, Pattern: Literal}

func topic(name string) Resource { return Resource{Type: TypeTopic, Name: name, Pattern: Literal} }

// Derive lists what flow f needs on its source and target clusters, for
// the resources of scope. It follows what the copy path, the checkpoint
// syncer and the heartbeat emitter call; the comments name the requests.
func Derive(f *config.Flow, scope Scope) []Need {
	var needs []Need
	add := func(alias string, r Resource, why string, ops ...string) {
		for _, op := range ops {
			needs = append(needs, Need{Cluster: alias, Resource: r, Operation: op, Why: why})
		}
	}
	src, tgt := f.Source, f.Target

	// Source: discovery (Metadata), copy (Fetch, ListOffsets); Read
	// implies Describe.
	for _, r := range scope.SourceTopics {
		add(src, r, "copy its records (Fetch; Read also allows Metadata and ListOffsets)", OpRead)
		add(src, r, "compare its configs with the target topic's (kmirror plan)", OpDescribeConfigs)
		if f.SyncTopicConfigs {
			add(src, r, "copy its configs to the target topic (DescribeConfigs, "+config.KeySyncTopicConfigs+")", OpDescribeConfigs)
		}
	}
	if f.SyncTopicACLs {
		add(src, theCluster, "read the ACLs of the selected topics (DescribeAcls, "+config.KeySyncTopicACLs+")", OpDescribe)
		add(tgt, theCluster, "create the copied topic ACLs (CreateAcls, "+config.KeySyncTopicACLs+")", OpAlter)
	}
	if f.EmitCheckpoints || f.SyncGroupOffsets {
		for _, r := range scope.Groups {
			add(src, r, "read its committed offsets to translate them (ListGroups, OffsetFetch)", OpDescribe)
		}
	}

	if scope.Rollback {
		for _, r := range scope.Groups {
			add(src, r, "commit its offsets translated back (kmirror migrate rollback: OffsetCommit; Read also allows DescribeGroups and OffsetFetch)", OpRead)
			add(tgt, r, "read its committed offsets to translate them back (kmirror migrate rollback: OffsetFetch, DescribeGroups)", OpDescribe)
		}
	}

	if scope.HandBack {
		why := "hand the flow back to MirrorMaker 2 (kmirror migrate hand-back: "
		add(tgt, topic(scope.HandBackTopic), why+"create MM2's Connect offsets topic when it is missing)", OpCreate)
		add(tgt, topic(scope.HandBackTopic), why+"write MM2's source positions)", OpWrite)
		add(tgt, topic(scope.HandBackTopic), why+"see whether it exists)", OpRead)
		syncsAt, syncs := f.OffsetSyncs()
		add(syncsAt, topic(syncs), why+"read the offset syncs for an older kmirror's records, and write the sync of each last copy)", OpRead, OpWrite)
		for _, at := range f.MM2OffsetSyncs()[1:] {
			add(at.Cluster, topic(at.Name), why+"write the sync of each last copy where MM2 reads them, "+config.KeyOffsetSyncsLocation+" being unset; create the topic when missing)", OpWrite, OpCreate)
		}
		if f.EmitCheckpoints {
			add(tgt, topic(f.InternalTopic(config.InternalCheckpoints).Name), why+"write one round of checkpoints)", OpWrite)
		}
		workers := Resource{Type: TypeGroup, Name: workgroup.Name(src, tgt), Pattern: Literal}
		add(tgt, workers, why+"refuse while a kmirror worker runs (DescribeGroups))", OpDescribe)
	}

	// Target: the mirrored topics.
	for _, r := range scope.CreateTopics {
		add(tgt, r, "create it (CreateTopics, "+config.KeyTopicCreation+")", OpCreate)
	}
	for _, r := range scope.TargetTopics {
		add(tgt, r, "write the copied records (Produce; Write also allows Metadata and ListOffsets)", OpWrite)
		if f.TopicCreation {
			add(tgt, r, "add partitions when the source topic grows (CreatePartitions, "+config.KeyTopicCreation+")", OpAlter)
		}
		add(tgt, r, "compare its configs with the source topic's (kmirror plan)", OpDescribeConfigs)
		if f.SyncTopicConfigs {
			add(tgt, r, "read its configs to sync them (DescribeConfigs, "+config.KeySyncTopicConfigs+")", OpDescribeConfigs)
			add(tgt, r, "set its configs as the source topic's (IncrementalAlterConfigs, "+config.KeySyncTopicConfigs+")", OpAlterConfigs)
		}
		if f.SyncGroupOffsets {
			add(tgt, r, "commit translated group offsets on it (OffsetCommit, "+config.KeySyncGroupOffsets+")", OpRead)
		}
	}
	if f.SyncGroupOffsets {
		for _, r := range scope.Groups {
			add(tgt, r, "commit translated offsets to it (OffsetCommit; Read also allows DescribeGroups and OffsetFetch, to see whether it is active on the target)", OpRead)
		}
	}

	// Internal topics: each is created on every start (CreateTopics; one
	// that exists is fine), written, and some read back at start.
	for _, it := range f.InternalTopics() {
		add(it.Cluster, topic(it.Name), "create it at start (CreateTopics; an existing topic is fine)", OpCreate)
		add(it.Cluster, topic(it.Name), "write "+it.Holds+" (Produce)", OpWrite)
		if it.ReadAtStart {
			add(it.Cluster, topic(it.Name), "read "+it.Holds+" back at start (Fetch)", OpRead)
		}
		if it.Cluster == src && !slices.Contains(needs, idempotent(src)) {
			needs = append(needs, idempotent(src))
		}
	}
	needs = append(needs, idempotent(tgt))
	// The workers of the flow share its partitions through this group.
	workers := Resource{Type: TypeGroup, Name: workgroup.Name(src, tgt), Pattern: Literal}
	add(tgt, workers, "share the flow's partitions between its workers (JoinGroup, SyncGroup, Heartbeat, LeaveGroup)", OpRead)
	if f.ExactlyOnce {
		slots := Resource{Type: TypeTransactionalID, Name: f.TransactionalIDPrefix(), Pattern: Prefixed}
		add(tgt, slots, "copy in transactions, one transactional.id a slot ("+config.KeyExactlyOnceSource+": enabled; InitProducerId, AddPartitionsToTxn, EndTxn; Write also allows Describe)", OpWrite)
	}

	// Taking over from a MirrorMaker 2 that copied the flow before: where
	// its Connect worker left each partition, and whether it still runs.
	// Without these kmirror copies from its own start position.
	for _, topic := range scope.MM2Topics {
		needs = append(needs, Need{Cluster: tgt, Resource: Resource{Type: TypeTopic, Name: topic, Pattern: Literal}, Operation: OpRead, Optional: true,
			Why: "optional: take over from a MirrorMaker 2 that copied this flow (read where its Connect worker left each partition)"})
	}
	for _, group := range scope.MM2Groups {
		needs = append(needs, Need{Cluster: tgt, Resource: Resource{Type: TypeGroup, Name: group, Pattern: Literal}, Operation: OpDescribe, Optional: true,
			Why: "optional: take over from a MirrorMaker 2 only once its Connect workers stopped (DescribeGroups)"})
	}
	for _, alias := range []string{src, tgt} {
		needs = append(needs, Need{Cluster: alias, Resource: theCluster, Operation: OpDescribe, Optional: true,
			Why: "optional: lets kmirror preflight check ACLs of topics that do not exist yet (DescribeAcls)"})
	}
	return needs
}

// idempotent is what franz-go's idempotent producers need: kmirror's
// clients produce idempotently (the copy path unless
// producer.enable.idempotence=false; progress, offset syncs, checkpoints
// and heartbeats always).
func idempotent(alias string) Need {
	return Need{Cluster: alias, Resource: theCluster, Operation: OpIdempotentWrite, ByTopicWrite: true,
		Why: "produce idempotently (InitProducerId); Kafka 3.0+ also accepts Write on any topic"}
}

// Merge folds needs for the same permission into one, joining the
// reasons, and sorts them: by the order clusters first appear, then
// topics, groups, cluster, then name and operation.
func Merge(needs []Need) []Need {
	order := map[string]int{}
	type key struct {
		cluster string
		res     Resource
		op      string
	}
	byKey := map[key]*Need{}
	var keys []key
	for _, n := range needs {
		if _, ok := order[n.Cluster]; !ok {
			order[n.Cluster] = len(order)
		}
		k := key{n.Cluster, n.Resource, n.Operation}
		m, ok := byKey[k]
		if !ok {
			c := n
			byKey[k] = &c
			keys = append(keys, k)
			continue
		}
		// A need that is required somewhere is required.
		if m.Optional && !n.Optional {
			m.Why, m.Optional = n.Why, false
			continue
		}
		if n.Optional && !m.Optional {
			continue
		}
		if !slices.Contains(strings.Split(m.Why, "; "), n.Why) {
			m.Why += "; " + n.Why
		}
	}
	typeOrder := map[string]int{TypeTopic: 0, TypeGroup: 1, TypeTransactionalID: 2, TypeCluster: 3}
	slices.SortStableFunc(keys, func(a, b key) int {
		return cmp.Or(
			cmp.Compare(order[a.cluster], order[b.cluster]),
			cmp.Compare(typeOrder[a.res.Type], typeOrder[b.res.Type]),
			cmp.Compare(a.res.Name, b.res.Name),
			cmp.Compare(a.res.Pattern, b.res.Pattern),
			cmp.Compare(opOrder(a.op), opOrder(b.op)),
		)
	})
	out := make([]Need, len(keys))
	for i, k := range keys {
		out[i] = *byKey[k]
	}
	return out
}

func opOrder(op string) int {
	return slices.Index([]string{OpCreate, OpRead, OpWrite, OpDescribe, OpAlter, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite}, op)
}
