package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Client roles: which client a cluster config key prefix configures.
const (
	RoleProducer = "producer"
	RoleConsumer = "consumer"
	RoleAdmin    = "admin"
)

// ClientKey is a Kafka client key kmirror maps onto franz-go.
type ClientKey struct {
	Role         string // RoleProducer, RoleConsumer, or "" for every client
	Name         string // without the role prefix
	KafkaDefault string // the Java client's default
	Default      string // kmirror's default
	Why          string // why kmirror's default differs, or how it maps
	apply        func(c *clientConfig, v string) error
}

// Full is the key as written in a cluster's config, e.g. "producer.acks".
func (k ClientKey) Full() string {
	if k.Role == "" {
		return k.Name
	}
	return k.Role + "." + k.Name
}

// clientConfig is what a cluster's client keys configure.
type clientConfig struct {
	cluster  *Cluster
	producer *Producer
	consumer *Consumer
	// explicitIdempotence is set when enable.idempotence was written, so
	// that acks=1 can turn idempotence off only when it was not asked for.
	explicitIdempotence bool
}

// ClientKeys are the Kafka client keys kmirror applies.
var ClientKeys = []ClientKey{
	{Role: RoleProducer, Name: "acks", KafkaDefault: "all", Default: "all",
		Why: "kmirror writes its copies with acks=all whatever this says: anything less may lose records on a target leader change",
		apply: func(c *clientConfig, v string) error {
			if v == "-1" {
				v = "all"
			}
			return setEnum(&c.producer.Acks, v, "all", "-1", "1", "0")
		}},
	{Role: RoleProducer, Name: "enable.idempotence", KafkaDefault: "true", Default: "true",
		Why: "kmirror writes its copies idempotently whatever this says: without it a retry may duplicate records",
		apply: func(c *clientConfig, v string) error {
			c.explicitIdempotence = true
			return setBool(&c.producer.Idempotent, v)
		}},
	{Role: RoleProducer, Name: "batch.size", KafkaDefault: "16384", Default: "1000012",
		Why:   "bounds a re-encoded batch (forwarded ones keep the source's), a larger record alone; uncompressed source batches under a quarter of it are gathered into larger ones (uncompressed, with batch.forwarding any); in exactly-once mode franz-go's batch limit, which refuses larger records; kept at the default when lower",
		apply: func(c *clientConfig, v string) error { return setNumber(&c.producer.BatchSize, v, 1) }},
	{Role: RoleProducer, Name: "linger.ms", KafkaDefault: "0", Default: "0",
		Why:   "ignored by the copy: a fetch is already a batch, sent at once",
		apply: func(c *clientConfig, v string) error { return setMillis(&c.producer.Linger, v) }},
	{Role: RoleProducer, Name: "buffer.memory", KafkaDefault: "33554432", Default: "33554432",
		Why:   "bounds what the producer holds, in flight or not; of that, at most 16 MiB waits for a request (more would only queue)",
		apply: func(c *clientConfig, v string) error { return setNumber(&c.producer.BufferMemory, v, 1) }},
	{Role: RoleProducer, Name: "compression.type", KafkaDefault: "none", Default: "none",
		apply: func(c *clientConfig, v string) error {
			return setEnum(&c.producer.Compression, strings.ToLower(strings.TrimSpace(v)), "none", "gzip", "snappy", "lz4", "zstd")
		}},
	{Role: RoleProducer, Name: "max.request.size", KafkaDefault: "1048576", Default: "104857600",
		Why:   "the bytes of one produce request, unless one batch is larger",
		apply: func(c *clientConfig, v string) error { return setNumber(&c.producer.MaxRequestSize, v, 1) }},
	{Role: RoleProducer, Name: "request.timeout.ms", KafkaDefault: "30000", Default: "30000",
		apply: func(c *clientConfig, v string) error { return setMillis(&c.producer.RequestTimeout, v) }},
	{Role: RoleProducer, Name: "delivery.timeout.ms", KafkaDefault: "120000", Default: "0",
		Why:   "0 retries until stopped: a mirror must not drop a record because the target was slow",
		apply: func(c *clientConfig, v string) error { return setMillis(&c.producer.DeliveryTimeout, v) }},
	{Role: RoleProducer, Name: "retries", KafkaDefault: "2147483647", Default: "2147483647",
		Why:   "exactly-once mode only: otherwise kmirror retries until delivery.timeout.ms, when set, or until stopped",
		apply: func(c *clientConfig, v string) error { return setNumber(&c.producer.Retries, v, 0) }},
	{Role: RoleProducer, Name: "max.in.flight.requests.per.connection", KafkaDefault: "5", Default: "5",
		Why:   "requests in flight to one broker, and batches of one partition; at most 5, which idempotence needs",
		apply: func(c *clientConfig, v string) error { return setNumber(&c.producer.MaxInFlight, v, 1) }},
	{Role: RoleProducer, Name: "client.id", KafkaDefault: "", Default: "kmirror",
		apply: func(c *clientConfig, v string) error { c.producer.ClientID = v; return nil }},
	{Role: RoleConsumer, Name: "fetch.max.bytes", KafkaDefault: "52428800", Default: "52428800",
		apply: func(c *clientConfig, v string) error { return setNumber(&c.consumer.FetchMaxBytes, v, 1) }},
	{Role: RoleConsumer, Name: "max.partition.fetch.bytes", KafkaDefault: "1048576", Default: "1048576",
		apply: func(c *clientConfig, v string) error { return setNumber(&c.consumer.MaxPartitionFetchBytes, v, 1) }},
	{Role: RoleConsumer, Name: "fetch.min.bytes", KafkaDefault: "1", Default: "1",
		apply: func(c *clientConfig, v string) error { return setNumber(&c.consumer.FetchMinBytes, v, 1) }},
	{Role: RoleConsumer, Name: "fetch.max.wait.ms", KafkaDefault: "500", Default: "500",
		apply: func(c *clientConfig, v string) error { return setMillis(&c.consumer.FetchMaxWait, v) }},
	{Role: RoleConsumer, Name: "isolation.level", KafkaDefault: "read_uncommitted", Default: "read_uncommitted",
		apply: func(c *clientConfig, v string) error {
			var s string
			if err := setEnum(&s, v, "read_uncommitted", "read_committed"); err != nil {
				return err
			}
			c.consumer.ReadCommitted = s == "read_committed"
			return nil
		}},
	{Role: RoleConsumer, Name: "auto.offset.reset", KafkaDefault: "earliest", Default: "earliest",
		Why:   "MM2 sets earliest; where a partition with no progress starts",
		apply: func(c *clientConfig, v string) error { return setEnum(&c.consumer.StartAt, v, "earliest", "latest") }},
	{Role: RoleConsumer, Name: "client.id", KafkaDefault: "", Default: "kmirror",
		apply: func(c *clientConfig, v string) error { c.consumer.ClientID = v; return nil }},
	{Name: "client.id", KafkaDefault: "", Default: "kmirror",
		apply: func(c *clientConfig, v string) error { c.cluster.ClientID = v; return nil }},
	{Name: "client.rack", KafkaDefault: "", Default: "",
		Why:   "fetches from the closest replica (KIP-392)",
		apply: func(c *clientConfig, v string) error { c.cluster.Rack = v; return nil }},
	{Name: "connections.max.idle.ms", KafkaDefault: "540000", Default: "540000",
		apply: func(c *clientConfig, v string) error { return setMillis(&c.cluster.ConnIdleTimeout, v) }},
	{Name: "socket.connection.setup.timeout.ms", KafkaDefault: "10000", Default: "10000",
		apply: func(c *clientConfig, v string) error { return setMillis(&c.cluster.DialTimeout, v) }},
	{Name: "metadata.max.age.ms", KafkaDefault: "300000", Default: "300000",
		apply: func(c *clientConfig, v string) error { return setMillis(&c.cluster.MetadataMaxAge, v) }},
}

// noEffectClientKeys are Kafka client keys with no meaning for kmirror's
// clients, for any role.
var noEffectClientKeys = []string{
	"key.serializer", "value.serializer", "key.deserializer", "value.deserializer",
	"max.block.ms", "max.poll.records", "max.poll.interval.ms", "enable.auto.commit",
	"auto.commit.interval.ms", "send.buffer.bytes", "receive.buffer.bytes",
	"interceptor.classes", "partitioner.class", "partitioner.ignore.keys", "partitioner.adaptive.partitioning.enable",
	"check.crcs", "allow.auto.create.topics", "client.dns.lookup", "reconnect.backoff.ms",
	"reconnect.backoff.max.ms", "retry.backoff.ms", "retry.backoff.max.ms", "transaction.timeout.ms",
	"transactional.id", "default.api.timeout.ms", "request.timeout.ms", "security.providers",
	"exclude.internal.topics", "group.instance.id", "metrics.num.samples", "metrics.recording.level",
	"metrics.sample.window.ms", "auto.include.jmx.reporter", "enable.metrics.push", "compression.gzip.level",
	"compression.lz4.level", "compression.zstd.level", "socket.connection.setup.timeout.max.ms",
}

// securityKeys configure TLS and SASL. Properties files set them per cluster;
// YAML configurations use tls and authentication instead.
var securityKeys = slices.Concat([]string{
	"security.protocol", "sasl.mechanism", "sasl.jaas.config",
	"ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.type", "ssl.truststore.certificates",
	"ssl.keystore.location", "ssl.keystore.password", "ssl.keystore.type", "ssl.key.password",
	"ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.endpoint.identification.algorithm",
}, oauthSecurityKeys())

// securityNoEffectKeys are security keys accepted without effect: Go's TLS
// stack chooses protocols and ciphers itself.
var securityNoEffectKeys = []string{
	"ssl.protocol", "ssl.enabled.protocols", "ssl.cipher.suites", "ssl.keymanager.algorithm",
	"ssl.trustmanager.algorithm", "ssl.secure.random.implementation", "ssl.provider", "ssl.engine.factory.class",
}

func clientKey(role, name string) (ClientKey, bool) {
	for _, k := range ClientKeys {
		if k.Role == role && k.Name == name {
			return k, true
		}
	}
	return ClientKey{}, false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func setMillis(dst *time.Duration, v string) error {
	n, err := parseInt(v, 64)
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("%q must not be negative", v)
	}
	*dst = time.Duration(n) * time.Millisecond
	return nil
}
