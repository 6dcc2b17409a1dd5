package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/kmirror/kmirror/internal/policy"
)

// Format is the kind of file a configuration was read from.
type Format string

const (
	FormatStrimzi    Format = "strimzi"    // a KafkaMirrorMaker2 resource
	FormatNative     Format = "native"     // the resource's spec as plain YAML
	FormatProperties Format = "properties" // MM2's connect-mirror-maker.properties
)

// Config is a whole configuration: the clusters, and the flows between them.
type Config struct {
	Path     string
	Format   Format
	Version  string // the resource's apiVersion, for Strimzi resources
	Clusters []*Cluster
	Flows    []*Flow
	// Target is the target cluster: every flow goes into it, but the way
	// back of a flow (B->A next to A->B), which goes out of it.
	Target   string
	Replicas int // spec.replicas of a Strimzi resource: how many workers to run
	// Name and Namespace are a Strimzi resource's metadata.
	Name, Namespace string
	// Document is the KafkaMirrorMaker2 resource (without its status and
	// the metadata the cluster keeps), or the native spec, as one YAML
	// document: non-breaking spaces read as spaces, other documents of the
	// file left out. Only with Options.Unresolved; nil for MM2 properties.
	Document []byte
	// References are what the configuration names and loading did not
	// read: its secrets, files, environment variables and inline
	// passwords with Options.Unresolved; its secrets, not checked, with
	// Options.Offline and no SecretsDir. Empty otherwise.
	References []Reference
	// Diagnostics are the warnings and notes found while loading.
	Diagnostics []Diagnostic
}

// Cluster returns the cluster with the alias, or nil.
func (c *Config) Cluster(alias string) *Cluster {
	for _, cl := range c.Clusters {
		if cl.Alias == alias {
			return cl
		}
	}
	return nil
}

// LeavesTarget reports whether f is the way back of a flow: it goes out
// of the configuration's target.
func (c *Config) LeavesTarget(f *Flow) bool { return c.Target != "" && f.Target != c.Target }

// Pair returns f's pair, the flow that copies the other way between f's
// clusters (B->A for A->B: the way back), or nil.
func (c *Config) Pair(f *Flow) *Flow {
	for _, g := range c.Flows {
		if g.Source == f.Target && g.Target == f.Source {
			return g
		}
	}
	return nil
}

// SameNamePair returns f's pair when both copy the same topic names (identity
// replication both ways): each must then tell the records the other wrote
// from those written on its source, or copy them back. Nil otherwise; with
// the default policy the names tell (a replica of the target is never
// copied back).
func (c *Config) SameNamePair(f *Flow) *Flow {
	if g := c.Pair(f); g != nil && f.Replication.Identity() && g.Replication.Identity() {
		return g
	}
	return nil
}

// mainTarget is the target cluster of flows without a connectCluster:
// every flow goes into it, but the reverse of a flow (B->A next to A->B),
// which goes back; with every flow reversed, the first flow's.
func mainTarget(flows []*Flow) string {
	for _, f := range flows {
		if rev := slices.ContainsFunc(flows, func(g *Flow) bool { return g.Source == f.Target && g.Target == f.Source }); !rev {
			return f.Target
		}
	}
	if len(flows) > 0 {
		return flows[0].Target
	}
	return ""
}

// outside reports whether f goes into neither target nor back from it.
func outside(flows []*Flow, f *Flow, target string) bool {
	if f.Target == target {
		return false
	}
	return f.Source != target || !slices.ContainsFunc(flows, func(g *Flow) bool { return g.Source == f.Target && g.Target == f.Source })
}

// Warnings returns the diagnostics of warning level.
func (c *Config) Warnings() []Diagnostic {
	var ws []Diagnostic
	for _, d := range c.Diagnostics {
		if d.Level == LevelWarning {
			ws = append(ws, d)
		}
	}
	return ws
}

// Cluster is how to reach one Kafka cluster.
type Cluster struct {
	Alias     string
	Bootstrap []string
	TLS       *TLS  // nil: plaintext
	SASL      *SASL // nil: no SASL
	ClientID  string
	Rack      string // client.rack: fetch from the closest replica
	// ConnIdleTimeout, DialTimeout and MetadataMaxAge are zero for franz-go's
	// defaults.
	ConnIdleTimeout time.Duration
	DialTimeout     time.Duration
	MetadataMaxAge  time.Duration
	// ConnectOffsetsTopic and ConnectGroup are the Kafka Connect worker's
	// offset.storage.topic and group.id set in the cluster's config, where
	// a MirrorMaker 2 whose Connect cluster this was stored its positions
	// and ran its workers: a takeover looks there first. Empty when unset.
	ConnectOffsetsTopic string
	ConnectGroup        string
	// ConnectOffsetsReplication is the worker's
	// offset.storage.replication.factor, with which 'kmirror migrate
	// hand-back' creates the Connect offsets topic when MM2 never made it;
	// 0 when unset, for the broker's default.
	ConnectOffsetsReplication int16
}

// TLS is the TLS material for a cluster, already read and parsed.
type TLS struct {
	// RootCAs trusts these certificates; nil trusts the system roots.
	RootCAs *x509.CertPool
	// CAs describes where the trusted certificates came from, for display.
	CAs []string
	// Certificate is the client certificate for mutual TLS, if any.
	Certificate *tls.Certificate
	// CertificateFrom describes where the client certificate comes from;
	// set when the configuration gives one, even if it was not read
	// (Options.Offline without a SecretsDir): see MutualTLS.
	CertificateFrom string
	// CertificateSecret is the Kubernetes secret of the client
	// certificate; "" when it comes from elsewhere.
	CertificateSecret string
	// ServerName overrides the name verified in the broker certificate.
	ServerName string
	// SkipHostnameVerification keeps verifying the chain but not the name,
	// as ssl.endpoint.identification.algorithm= (empty) does in Java.
	SkipHostnameVerification bool
}

// MutualTLS reports whether the cluster is given a client certificate,
// read or not.
func (t *TLS) MutualTLS() bool { return t != nil && t.CertificateFrom != "" }

// SASL mechanisms kmirror speaks.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
	// MechanismOAuthBearer sends an OAuth 2.0 access token (RFC 7628).
	MechanismOAuthBearer = "OAUTHBEARER"
)

// SASL is a cluster's SASL authentication.
type SASL struct {
	Mechanism string
	// Username and Password are PLAIN's and SCRAM's credentials.
	Username string
	Password Secret
	// OAuth is where OAUTHBEARER's tokens come from; nil for the other
	// mechanisms.
	OAuth *OAuth
}

// Flow is one source→target replication, a Strimzi "mirror".
type Flow struct {
	Source, Target string
	// Where is how the configuration names the flow, for messages.
	Where string
	Settings
	Producer Producer // the producer writing to the target
	Consumer Consumer // the consumer reading from the source
}

// Name is "source->target", as MM2 names flows.
func (f *Flow) Name() string { return f.Source + "->" + f.Target }

// OffsetSyncs says where the flow's offset syncs live, as
// offset-syncs.topic.location says: the alias of the cluster that holds
// them, and the topic, named after the other cluster as MM2 names it.
func (f *Flow) OffsetSyncs() (cluster, topic string) {
	if f.OffsetSyncsLocation == "source" {
		return f.Source, f.Replication.OffsetSyncsTopic(f.Target)
	}
	return f.Target, f.Replication.OffsetSyncsTopic(f.Source)
}

// OffsetSyncsElsewhere is the other location than OffsetSyncs: where
// MirrorMaker 2 may have written its own syncs, since its default is the
// source and kmirror's the target.
func (f *Flow) OffsetSyncsElsewhere() (cluster, topic string) {
	if f.OffsetSyncsLocation == "source" {
		return f.Target, f.Replication.OffsetSyncsTopic(f.Source)
	}
	return f.Source, f.Replication.OffsetSyncsTopic(f.Target)
}

// MM2OffsetSyncs lists where a MirrorMaker 2 started on the same
// configuration finds the flow's offset syncs, the flow's own location
// first: when the configuration leaves offset-syncs.topic.location unset
// and kmirror keeps them on the target, MM2 (source by default) looks on
// the source, and both are listed.
func (f *Flow) MM2OffsetSyncs() []InternalTopic {
	out := []InternalTopic{f.InternalTopic(InternalOffsetSyncs)}
	if !f.OffsetSyncsLocationSet && f.OffsetSyncsLocation == "target" {
		at, name := f.OffsetSyncsElsewhere()
		out = append(out, InternalTopic{Cluster: at, Name: name, ReplicationFactor: f.OffsetSyncsReplicationFactor,
			ReplicationKey: KeyOffsetSyncsReplication, Holds: "MM2-format offset syncs, where MM2 reads them by default"})
	}
	return out
}

// TransactionalID is the transactional.id of slot slot of the flow in
// exactly-once mode: each slot's producer fences the slot's earlier ones.
func (f *Flow) TransactionalID(slot int32) string {
	return fmt.Sprintf("%s%d", f.TransactionalIDPrefix(), slot)
}

// TransactionalIDPrefix is what the flow's transactional ids begin with,
// for the ACLs that grant them.
func (f *Flow) TransactionalIDPrefix() string { return "kmirror." + f.Source + "." + f.Target + "." }

// TransactionTimeout is how long the target lets a slot's transaction
// stay open before it aborts it (exactly-once mode): long enough for a
// commit interval and a slow commit, short enough that a frozen worker's
// transaction does not hold readers of the target back for long. It must
// not exceed the target's transaction.max.timeout.ms.
func (f *Flow) TransactionTimeout() time.Duration {
	return max(30*time.Second, 3*f.TransactionInterval)
}

// OffsetMapTopic is the name of the topic on the target that holds the
// flow's exact offset map: kmirror's own, so that the offset-syncs topic,
// which MirrorMaker 2 reads, holds MM2's format alone.
func (f *Flow) OffsetMapTopic() string { return "kmirror-offset-map." + f.Source + ".internal" }

// ProgressTopic is the name of kmirror's progress topic of the flow, on
// the target: one per source cluster, shared by the flows from it.
func (f *Flow) ProgressTopic() string { return "kmirror-progress." + f.Source + ".internal" }

// JournalTopic is the name of the journal of the flow's migration steps,
// on the target: one per source cluster, beside the progress topic.
func (f *Flow) JournalTopic() string { return "kmirror-journal." + f.Source + ".internal" }

// Settings are a flow's MM2 connector settings.
type Settings struct {
	Topics, TopicsExclude   policy.Pattern
	Groups, GroupsExclude   policy.Pattern
	ConfigPropertiesExclude policy.Pattern
	Replication             policy.Replication

	TasksMax int

	ReplicationFactor            int16 // -1: the broker's default
	HeartbeatsReplicationFactor  int16
	CheckpointsReplicationFactor int16
	OffsetSyncsReplicationFactor int16

	OffsetSyncsLocation string // "source" or "target"
	// OffsetSyncsLocationSet says the configuration names the location:
	// left unset, MM2 reads and writes its syncs on the source (its
	// default) where kmirror keeps them on the target.
	OffsetSyncsLocationSet bool
	// EmitOffsetSyncs writes MM2-format offset syncs, one at each gap in
	// the copies and at most OffsetLagMax records apart.
	EmitOffsetSyncs bool
	OffsetLagMax    int
	TopicCreation   bool

	SyncTopicConfigs         bool
	SyncTopicConfigsInterval time.Duration
	SyncTopicACLs            bool
	SyncTopicACLsInterval    time.Duration
	RefreshTopics            bool
	RefreshTopicsInterval    time.Duration
	RefreshGroups            bool
	RefreshGroupsInterval    time.Duration

	EmitHeartbeats           bool
	EmitHeartbeatsInterval   time.Duration
	EmitCheckpoints          bool
	EmitCheckpointsInterval  time.Duration
	SyncGroupOffsets         bool
	SyncGroupOffsetsInterval time.Duration

	// OvertakenPolicy is "stop" or "skip": see KeyOvertakenPolicy.
	OvertakenPolicy string
	// ThrottleBytesPerSecond caps what a worker reads for the flow; 0 is
	// no cap.
	ThrottleBytesPerSecond int64
	// ProvenanceHeader stamps copies with the source cluster's id and
	// skips the source records stamped with the target's.
	ProvenanceHeader bool
	// BatchForwarding says which source batches are written on as they
	// are: ForwardAny, ForwardSameCodec or ForwardOff.
	BatchForwarding string

	// The timings of the group through which the flow's workers share its
	// partitions.
	SessionTimeout, HeartbeatInterval, RebalanceTimeout time.Duration

	// ExactlyOnce says the flow copies in transactions: the target
	// cluster's config (or the flow) says exactly.once.source.support:
	// enabled. Each of its TransactionSlots slots commits every
	// TransactionInterval.
	ExactlyOnce         bool
	TransactionInterval time.Duration
	TransactionSlots    int
	exactlyOnceSupport  string // requested or required

	internalSeparator bool
}

// The values of batch.forwarding.
const (
	ForwardAny       = "any"
	ForwardSameCodec = "same-codec"
	ForwardOff       = "off"
)

// Producer settings, from the target cluster's producer.* keys.
type Producer struct {
	Acks       string // "all", "1" or "0"
	Idempotent bool
	BatchSize  int32
	// Linger is what linger.ms says; kmirror's copy producers ignore it
	// (mirror's copyProducerOptions), other producers built from these
	// settings (the bench's loads) keep it.
	Linger          time.Duration
	BufferMemory    int64
	Compression     string // none, gzip, snappy, lz4, zstd
	MaxRequestSize  int32
	RequestTimeout  time.Duration
	DeliveryTimeout time.Duration // 0: retry until stopped
	Retries         int           // -1: unlimited
	MaxInFlight     int
	ClientID        string
}

// Consumer settings, from the source cluster's consumer.* keys.
type Consumer struct {
	FetchMaxBytes          int32
	MaxPartitionFetchBytes int32
	FetchMinBytes          int32
	FetchMaxWait           time.Duration
	ReadCommitted          bool
	// StartAt is where a partition with no progress starts: "earliest" or
	// "latest".
	StartAt  string
	ClientID string
}
