package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
)

// largest is the largest record batch a selected source topic accepts,
// and which topic.
type largest struct {
	bytes int64
	topic string
	err   error
}

// targetTopics checks the target topics of the selected source topics:
// those that exist have the source's partitions, a cleanup policy that
// keeps what the source keeps, and room for its records; those run
// creates can be created so. It returns the largest record batch a
// source topic accepts.
func (rq *requirer) targetTopics(ctx context.Context, f *config.Flow, v *flowView) largest {
	var big largest
	if len(v.topics) == 0 {
		return big
	}
	src, tgt := rq.clients[f.Source], rq.clients[f.Target]
	facts, ferr := rq.clusterFacts(ctx, f.Target)
	var names, existing []string
	var toCreate []discover.Topic
	for _, t := range v.topics {
		names = append(names, t.Source)
		st := v.target[t.Target]
		switch {
		case st.Err == nil:
			existing = append(existing, t.Target)
		case errors.Is(st.Err, kerr.UnknownTopicOrPartition) && f.TopicCreation:
			toCreate = append(toCreate, t)
		}
	}
	sources := topicSettings(ctx, src, names)
	targets := topicSettings(ctx, tgt, existing)
	creates, cerr := kadm.CreateTopicResponses{}, error(nil)
	if len(toCreate) > 0 {
		creates, cerr = discover.CreateTargetTopics(ctx, kadm.NewClient(src), kadm.NewClient(tgt), f, toCreate, true)
	}
	for _, t := range v.topics {
		subject := "topic:" + t.Target
		st := v.target[t.Target]
		source := sources[t.Source]
		var target settings
		replicas := 0
		switch {
		case st.Err == nil:
			rq.partitions(f, subject, t, st)
			replicas, target = st.Replicas, targets[t.Target]
		case hidden(st.Err):
			rq.add(Requirement{f.Target, subject, "partitions", Unknown, fmt.Sprintf("cannot describe it: needs Describe on topic:%s", t.Target)})
			continue
		case !errors.Is(st.Err, kerr.UnknownTopicOrPartition):
			rq.add(Requirement{f.Target, subject, "partitions", Unknown, fmt.Sprintf("cannot describe it: %v", st.Err)})
			continue
		case !f.TopicCreation:
			rq.add(Requirement{f.Target, subject, "partitions", Fails, fmt.Sprintf("does not exist and %s is false, so run does not copy %q: create it with %d partitions (kafka-topics.sh --create --topic %s --partitions %d), or set %s=true",
				config.KeyTopicCreation, t.Source, t.Partitions, t.Target, t.Partitions, config.KeyTopicCreation)})
			continue
		case cerr != nil:
			rq.add(Requirement{f.Target, subject, config.KeyReplicationFactor, Unknown, fmt.Sprintf("cannot ask %q whether it would create it: %v", f.Target, cerr)})
			continue
		case creates[t.Target].Topic == "":
			rq.add(Requirement{f.Target, subject, config.KeyReplicationFactor, Unknown, fmt.Sprintf("%q did not say whether it would create it", f.Target)})
			continue
		default:
			r := creates[t.Target]
			var ok bool
			if replicas, target, ok = rq.creation(f.Target, subject, config.KeyReplicationFactor, f.ReplicationFactor, r, r.Err, facts, ferr); !ok {
				continue
			}
			// Settings a validate-only creation did not report are the
			// broker's defaults.
			target = withDefaults(target, facts, ferr)
		}
		if f.Producer.Acks == "all" {
			rs := replicasAtCreation(replicas)
			if st.Err == nil {
				rs = replicasNow(st)
			}
			rq.minInsync(f.Target, subject, t.Target, target, facts, ferr, rs)
		}
		rq.cleanupPolicy(f, subject, t, source, target, st.Err != nil)
		if b := rq.maxMessageBytes(f, subject, t, source, target); b > big.bytes {
			big = largest{bytes: b, topic: t.Source}
		}
		if source.err != nil && big.err == nil {
			big.err = fmt.Errorf("source topic %q: %w", t.Source, source.err)
		}
	}
	return big
}

// withDefaults completes the settings of a topic to create with the
// broker's defaults.
func withDefaults(s settings, facts clusterFacts, ferr error) settings {
	if ferr != nil || facts.config.err != nil {
		return s
	}
	out := settings{values: map[string]string{}, from: s.from}
	for _, key := range []string{"min.insync.replicas", "max.message.bytes", "cleanup.policy", "compression.type"} {
		if v, _, err := orDefault(s, facts, key); err == nil {
			out.values[key] = v
		}
	}
	return out
}

// partitions checks an existing target topic has the source's partitions.
func (rq *requirer) partitions(f *config.Flow, subject string, t discover.Topic, st topicState) {
	switch {
	case st.Partitions >= t.Partitions:
		rq.add(Requirement{f.Target, subject, "partitions", OK, fmt.Sprintf("%d, the source topic %q %d", st.Partitions, t.Source, t.Partitions)})
	case f.TopicCreation:
		rq.add(Requirement{f.Target, subject, "partitions", OK, fmt.Sprintf("%d, the source topic %q %d: run adds %d (%s)", st.Partitions, t.Source, t.Partitions, t.Partitions-st.Partitions, config.KeyTopicCreation)})
	default:
		rq.add(Requirement{f.Target, subject, "partitions", Fails, fmt.Sprintf("%d, fewer than the %d of source topic %q, and %s is false, so run does not copy it: add them (kafka-topics.sh --alter --topic %s --partitions %d), or set %s=true",
			st.Partitions, t.Partitions, t.Source, config.KeyTopicCreation, t.Target, t.Partitions, config.KeyTopicCreation)})
	}
}

// cleanupPolicy checks the target topic keeps records as the source does:
// a compacted target refuses records without a key, and a target that
// deletes by time and size loses what a compacted source keeps. (Of an
// existing topic, sync.topic.configs.enabled sets the source's configs
// only once copying started: too late for the first records.)
func (rq *requirer) cleanupPolicy(f *config.Flow, subject string, t discover.Topic, source, target settings, toCreate bool) {
	const key = "cleanup.policy"
	sv, err := source.get(key)
	if err != nil {
		rq.add(Requirement{f.Target, subject, key, Unknown, fmt.Sprintf("source topic %q: %v", t.Source, err)})
		return
	}
	tv, err := target.get(key)
	if err != nil {
		rq.add(Requirement{f.Target, subject, key, Unknown, err.Error()})
		return
	}
	switch {
	case policies(sv) == policies(tv):
		rq.add(Requirement{f.Target, subject, key, OK, fmt.Sprintf("%s, as the source topic's", tv)})
		return
	}
	why := "the target deletes old records by time and size, which the source keeps by key"
	if strings.Contains(tv, "compact") && !strings.Contains(sv, "compact") {
		why = "the target refuses records without a key, which the source accepts"
	}
	fix := fmt.Sprintf("set %s=%s on it (kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config %s=%s)", key, sv, t.Target, key, strings.ReplaceAll(sv, ",", "\\,"))
	if toCreate {
		fix = fmt.Sprintf("create it yourself with %s=%s, or set %s=true (run then creates it with the source topic's configs)", key, sv, config.KeySyncTopicConfigs)
	}
	rq.add(Requirement{f.Target, subject, key, Fails, fmt.Sprintf("%s, the source topic %q's %s: %s: %s", tv, t.Source, sv, why, fix)})
}

// policies normalizes a cleanup.policy list.
func policies(v string) string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// maxMessageBytes checks the target topic takes the largest record batch
// the source topic accepts, and the producer's batches. It returns the
// source topic's max.message.bytes, 0 when unknown.
func (rq *requirer) maxMessageBytes(f *config.Flow, subject string, t discover.Topic, source, target settings) int64 {
	const key = "max.message.bytes"
	sv, err := source.number(key)
	if err != nil {
		rq.add(Requirement{f.Target, subject, key, Unknown, fmt.Sprintf("source topic %q: %v", t.Source, err)})
		return 0
	}
	tv, err := target.number(key)
	if err != nil {
		rq.add(Requirement{f.Target, subject, key, Unknown, err.Error()})
		return sv
	}
	batch := int64(f.Producer.BatchSize)
	how := func(n int64) string {
		return fmt.Sprintf("set %s=%d on it (kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config %s=%d)", key, n, t.Target, key, n)
	}
	switch {
	case tv < sv:
		rq.add(Requirement{f.Target, subject, key, Fails, fmt.Sprintf("%d, below the source topic %q's %d: records the source accepts would be refused (MESSAGE_TOO_LARGE): %s", tv, t.Source, sv, how(sv))})
	case tv < batch:
		rq.add(Requirement{f.Target, subject, key, Fails, fmt.Sprintf("%d, below kmirror's batches of up to %d bytes (producer.batch.size, at least 1000012): they would be refused (MESSAGE_TOO_LARGE): %s", tv, batch, how(batch))})
	default:
		rq.add(Requirement{f.Target, subject, key, OK, fmt.Sprintf("%d, no less than the source topic's %d and kmirror's batches (%d)", tv, sv, batch)})
	}
	return sv
}

// producer checks the producer's settings against the target's limits:
// in exactly-once mode a record as large as a source topic accepts fits a
// batch; a request fits what the brokers read, and the brokers speak the
// codec.
func (rq *requirer) producer(ctx context.Context, f *config.Flow, v *flowView, big largest) {
	subject := f.Name()
	p := f.Producer
	// Kafka's default max.message.bytes (1048588) is a little above the
	// producer's smallest batch limit (1000012), as it is above MM2's
	// max.request.size (1048576): only a limit raised above it fails.
	const kafkaDefault = 1048588
	switch {
	case !f.ExactlyOnce:
		// The batch path writes a record larger than a batch alone:
		// only franz-go's transactional producers refuse it.
	case big.bytes > int64(p.BatchSize) && big.bytes > kafkaDefault:
		rq.add(Requirement{f.Target, subject, "producer.batch.size", Fails, fmt.Sprintf("%d: kmirror writes records of up to that size, and source topic %q accepts up to %d (max.message.bytes): set producer.batch.size to %d or more in the target cluster's config",
			p.BatchSize, big.topic, big.bytes, big.bytes)})
	case big.err != nil:
		rq.add(Requirement{f.Target, subject, "producer.batch.size", Unknown, fmt.Sprintf("%d; %v", p.BatchSize, big.err)})
	case big.bytes > int64(p.BatchSize):
		rq.add(Requirement{f.Target, subject, "producer.batch.size", OK, fmt.Sprintf("%d, below the %d Kafka's default lets source topic %q accept: a record larger than the batch would not be copied (as with MM2's producer); set producer.batch.size to %d to copy any",
			p.BatchSize, big.bytes, big.topic, big.bytes)})
	case big.bytes > 0:
		rq.add(Requirement{f.Target, subject, "producer.batch.size", OK, fmt.Sprintf("%d, no less than the largest batch a selected source topic accepts (%d, %q)", p.BatchSize, big.bytes, big.topic)})
	}
	facts, err := rq.clusterFacts(ctx, f.Target)
	if err != nil {
		rq.add(Requirement{f.Target, subject, "producer.max.request.size", Unknown, err.Error()})
		return
	}
	const socket = "socket.request.max.bytes"
	limit, err := facts.config.number(socket)
	switch {
	case err != nil:
		rq.add(Requirement{f.Target, subject, "producer.max.request.size", Unknown, fmt.Sprintf("%d; the target's %s is not known (%v); Kafka's default is 104857600", p.MaxRequestSize, socket, err)})
	case int64(p.MaxRequestSize) > limit:
		rq.add(Requirement{f.Target, subject, "producer.max.request.size", Fails, fmt.Sprintf("%d, above the target's %s=%d: a broker closes the connection of a larger request, and the producer retries it for ever: set producer.max.request.size to %d or less in the target cluster's config",
			p.MaxRequestSize, socket, limit, limit)})
	default:
		rq.add(Requirement{f.Target, subject, "producer.max.request.size", OK, fmt.Sprintf("%d, within the target's %s=%d", p.MaxRequestSize, socket, limit)})
	}
	const zstdProduce = 7 // Kafka 2.1
	codec := p.Compression
	switch {
	case codec == "zstd" && facts.produceVersion >= 0 && facts.produceVersion < zstdProduce:
		rq.add(Requirement{f.Target, subject, "producer.compression.type", Fails, fmt.Sprintf("zstd, which the target's brokers do not speak (Produce v%d; zstd needs v%d, Kafka 2.1): set producer.compression.type to gzip, snappy or lz4", facts.produceVersion, zstdProduce)})
	default:
		rq.add(Requirement{f.Target, subject, "producer.compression.type", OK, codec + ", which the target's brokers speak"})
	}
}

// transactions checks, in exactly-once mode, that the target lets the
// slots' transactions stay open as long as run asks.
func (rq *requirer) transactions(ctx context.Context, f *config.Flow) {
	const key = "transaction.max.timeout.ms"
	subject, timeout := f.Name(), f.TransactionTimeout()
	facts, err := rq.clusterFacts(ctx, f.Target)
	var limit int64
	if err == nil {
		limit, err = facts.config.number(key)
	}
	switch {
	case err != nil:
		rq.add(Requirement{f.Target, subject, config.KeyTransactionInterval, Unknown, fmt.Sprintf("transactions of %s; the target's %s is not known (%v); Kafka's default is 900000", timeout, key, err)})
	case timeout.Milliseconds() > limit && limit < 30_000:
		rq.add(Requirement{f.Target, subject, config.KeyTransactionInterval, Fails, fmt.Sprintf("transactions of %s (at least 30 s), above the target's %s=%d: every slot would be refused (INVALID_TRANSACTION_TIMEOUT): raise %s to 30000 or more",
			timeout, key, limit, key)})
	case timeout.Milliseconds() > limit:
		rq.add(Requirement{f.Target, subject, config.KeyTransactionInterval, Fails, fmt.Sprintf("%s makes transactions of %s (three times it, at least 30 s), above the target's %s=%d: every slot would be refused (INVALID_TRANSACTION_TIMEOUT): set %s to %d or less, or raise %s",
			f.TransactionInterval, timeout, key, limit, config.KeyTransactionInterval, limit/3, key)})
	default:
		rq.add(Requirement{f.Target, subject, config.KeyTransactionInterval, OK, fmt.Sprintf("transactions of %s, within the target's %s=%d", timeout, key, limit)})
	}
}
