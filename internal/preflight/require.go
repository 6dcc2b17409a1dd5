package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mirror"
)

// Statuses of a requirement.
const (
	OK    Status = "ok"
	Fails Status = "fails"
)

// Requirement is one thing run asks of a cluster besides permissions (an
// internal topic's replication factor, a target topic's partitions, a
// size limit) and whether the cluster gives it.
type Requirement struct {
	Cluster string `json:"cluster"`
	// Subject is what it is about: "topic:NAME", or a flow ("a->b") for
	// its producer and transactions.
	Subject string `json:"subject"`
	// Setting is the configuration key or topic config it turns on.
	Setting string `json:"setting"`
	// Status is ok, fails (run would fail, or not copy the topic) or
	// unknown.
	Status Status `json:"status"`
	// Detail says what was found; for fails, how to fix it.
	Detail string `json:"detail"`
}

// requirer works out what run asks of the clusters, through the clients
// of Run, reading each cluster's facts once.
type requirer struct {
	clients map[string]*kgo.Client
	facts   map[string]clusterFacts
	errs    map[string]error
	out     []Requirement
}

func (rq *requirer) add(r Requirement) {
	for _, o := range rq.out {
		// Flows from one source share their internal topics.
		if o.Cluster == r.Cluster && o.Subject == r.Subject && o.Setting == r.Setting {
			return
		}
	}
	rq.out = append(rq.out, r)
}

func (rq *requirer) clusterFacts(ctx context.Context, alias string) (clusterFacts, error) {
	if f, ok := rq.facts[alias]; ok || rq.errs[alias] != nil {
		return f, rq.errs[alias]
	}
	f, err := readClusterFacts(ctx, rq.clients[alias])
	if err != nil {
		err = fmt.Errorf("describe %q: %w", alias, err)
	}
	rq.facts[alias], rq.errs[alias] = f, err
	return f, err
}

// flow checks what flow f's run asks: its internal topics, its target
// topics, its producer and, in exactly-once mode, its transactions.
func (rq *requirer) flow(ctx context.Context, f *config.Flow, v *flowView) {
	rq.internalTopics(ctx, f)
	largest := rq.targetTopics(ctx, f, v)
	rq.producer(ctx, f, v, largest)
	if f.ExactlyOnce {
		rq.transactions(ctx, f)
	}
}

// internalTopics checks the internal topics run creates at start, as
// config.Flow.InternalTopics describes them: each that exists keeps its
// replicas, each that does not must be creatable with its replication
// factor, and writable (acks=all) under min.insync.replicas.
func (rq *requirer) internalTopics(ctx context.Context, f *config.Flow) {
	byCluster := map[string][]config.InternalTopic{}
	var aliases []string
	for _, it := range f.InternalTopics() {
		if _, ok := byCluster[it.Cluster]; !ok {
			aliases = append(aliases, it.Cluster)
		}
		byCluster[it.Cluster] = append(byCluster[it.Cluster], it)
	}
	for _, alias := range aliases {
		cl := rq.clients[alias]
		facts, ferr := rq.clusterFacts(ctx, alias)
		var names []string
		for _, it := range byCluster[alias] {
			names = append(names, it.Name)
		}
		states, err := describeTopics(ctx, cl, names)
		var existing []string
		for name, st := range states {
			if st.Err == nil {
				existing = append(existing, name)
			}
		}
		cfgs := topicSettings(ctx, cl, existing)
		for _, it := range byCluster[alias] {
			subject := "topic:" + it.Name
			st, ok := states[it.Name]
			switch {
			case err != nil || !ok:
				rq.add(Requirement{alias, subject, it.ReplicationKey, Unknown, fmt.Sprintf("cannot describe it: %v", orNoAnswer(err))})
			case st.Err == nil:
				rq.add(Requirement{alias, subject, it.ReplicationKey, OK, fmt.Sprintf("exists with %s, which run keeps", count(st.Replicas, "replica"))})
				rq.minInsync(alias, subject, it.Name, cfgs[it.Name], facts, ferr, replicasNow(st))
			case hidden(st.Err):
				rq.add(Requirement{alias, subject, it.ReplicationKey, Unknown, fmt.Sprintf("cannot describe it (needs Describe on topic:%s): whether it exists is unknown", it.Name)})
			default:
				resp, cerr := cluster.CreateInternalTopic(ctx, kadm.NewClient(cl), it, true)
				if replicas, s, ok := rq.creation(alias, subject, it.ReplicationKey, it.ReplicationFactor, resp, cerr, facts, ferr); ok {
					rq.minInsync(alias, subject, it.Name, s, facts, ferr, replicasAtCreation(replicas))
				}
			}
		}
	}
}

func orNoAnswer(err error) error {
	if err == nil {
		return errors.New("no answer from the broker")
	}
	return err
}

// creation judges the answer to a validate-only CreateTopics of a topic
// run would create with replication factor rf, which key sets: the
// replicas and settings it would get, when known.
func (rq *requirer) creation(alias, subject, key string, rf int16, r kadm.CreateTopicResponse, err error, facts clusterFacts, ferr error) (int, settings, bool) {
	switch {
	case err == nil:
		// A broker answers -1 to a user who may not describe the
		// topic's configs.
		replicas := int(r.ReplicationFactor)
		if replicas <= 0 {
			replicas = int(rf)
		}
		if replicas <= 0 {
			rq.add(Requirement{alias, subject, key, OK, fmt.Sprintf("run creates it with the broker's default.replication.factor (%s=-1), which %q accepts", key, alias)})
			return 0, created(r), true
		}
		rq.add(Requirement{alias, subject, key, OK, fmt.Sprintf("run creates it with %s (%s=%d); %q has %s", count(replicas, "replica"), key, rf, alias, count(facts.brokers, "broker"))})
		return replicas, created(r), true
	case errors.Is(err, kerr.InvalidReplicationFactor):
		rq.add(Requirement{alias, subject, key, Fails, tooFewBrokers(alias, key, rf, -1, facts.brokers)})
		return 0, settings{}, false
	case errors.Is(err, kerr.TopicAlreadyExists):
		rq.add(Requirement{alias, subject, key, OK, "exists (created just now)"})
		return 0, settings{}, false
	case !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.ClusterAuthorizationFailed):
		msg := err.Error()
		if r.ErrMessage != "" {
			msg += ": " + r.ErrMessage
		}
		rq.add(Requirement{alias, subject, key, Fails, fmt.Sprintf("%q refuses to create it with %s=%d: %s", alias, key, rf, msg)})
		return 0, settings{}, false
	case ferr != nil:
		rq.add(Requirement{alias, subject, key, Unknown, ferr.Error()})
		return 0, settings{}, false
	}
	// The broker would not validate the creation for this user: compare
	// with what it said of itself.
	why := fmt.Sprintf("the broker does not validate the creation (needs Create on %s)", subject)
	replicas := int64(rf)
	if rf < 0 {
		def, derr := facts.config.number("default.replication.factor")
		if derr != nil {
			rq.add(Requirement{alias, subject, key, Unknown, fmt.Sprintf("%s=-1 takes the broker's default.replication.factor, not known: %v; %s", key, derr, why)})
			return 0, settings{}, false
		}
		replicas = def
	}
	if replicas > int64(facts.brokers) {
		rq.add(Requirement{alias, subject, key, Fails, tooFewBrokers(alias, key, rf, replicas, facts.brokers)})
		return 0, settings{}, false
	}
	rq.add(Requirement{alias, subject, key, OK, fmt.Sprintf("run creates it with %s (%s=%d); %q has %s; %s", count(int(replicas), "replica"), key, rf, alias, count(facts.brokers, "broker"), why)})
	return int(replicas), settings{from: "the topic's configs", err: errors.New(why)}, true
}

// count is "1 replica", "3 replicas".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// tooFewBrokers says how to fix a replication factor above the brokers;
// def is what -1 stood for, if known.
func tooFewBrokers(alias, key string, rf int16, def int64, brokers int) string {
	if rf < 0 {
		took := "the broker's default.replication.factor"
		if def > 0 {
			took += fmt.Sprintf("=%d", def)
		}
		return fmt.Sprintf("%s=-1 takes %s, more than the %d broker(s) of %q: set %s to %d (or lower default.replication.factor)", key, took, brokers, alias, key, min(brokers, 3))
	}
	return fmt.Sprintf("%s=%d, but %q has %d broker(s): set %s to %d or less (-1 takes the broker's default.replication.factor)", key, rf, alias, brokers, key, brokers)
}

// replicaState is how many replicas a topic's partitions have and how
// many are in sync; partition is the one with the fewest, -1 for a topic
// run would create (all its replicas then in sync).
type replicaState struct {
	replicas, inSync int
	partition        int32
}

func replicasNow(st topicState) replicaState {
	return replicaState{replicas: st.Replicas, inSync: st.InSync, partition: st.Behind}
}

func replicasAtCreation(replicas int) replicaState {
	return replicaState{replicas: replicas, inSync: replicas, partition: -1}
}

// capsMinInsync is the first Produce version of Kafka 3.7, whose brokers
// require min(min.insync.replicas, replicas) in sync (KAFKA-15583):
// earlier ones refuse every acks=all write to a topic of fewer replicas
// than min.insync.replicas.
const capsMinInsync = 10

// minInsync checks that writes with acks=all can succeed on a topic now:
// enough of its replicas are in sync for min.insync.replicas.
func (rq *requirer) minInsync(alias, subject, name string, s settings, facts clusterFacts, ferr error, rs replicaState) {
	const key = "min.insync.replicas"
	v, from, err := orDefault(s, facts, key)
	if err != nil {
		if ferr != nil {
			err = ferr
		}
		rq.add(Requirement{alias, subject, key, Unknown, err.Error()})
		return
	}
	n, perr := strconv.Atoi(v)
	if perr != nil {
		rq.add(Requirement{alias, subject, key, Unknown, fmt.Sprintf("%s=%q is not a number", key, v)})
		return
	}
	if rs.replicas <= 0 {
		rq.add(Requirement{alias, subject, key, Unknown, fmt.Sprintf("%d (%s); the broker does not say how many replicas it would get (it tells a user with DescribeConfigs on topic:%s)", n, from, name)})
		return
	}
	capped := facts.produceVersion >= capsMinInsync
	need := n
	if capped {
		need = min(n, rs.replicas)
	}
	switch {
	case n > rs.replicas && !capped:
		rq.add(Requirement{alias, subject, key, Fails, fmt.Sprintf("%d (%s), above its %s: brokers before Kafka 3.7 refuse every write with acks=all (NOT_ENOUGH_REPLICAS): %s",
			n, from, count(rs.replicas, "replica"), lowerMinInsync(name, rs, key))})
	case rs.inSync < need:
		rq.add(Requirement{alias, subject, key, Fails, fmt.Sprintf("%d (%s), but partition %d has %d of its %s in sync: writes with acks=all fail (NOT_ENOUGH_REPLICAS) until its replicas catch up; bring their brokers back",
			n, from, rs.partition, rs.inSync, count(rs.replicas, "replica"))})
	case n > rs.replicas:
		rq.add(Requirement{alias, subject, key, OK, fmt.Sprintf("%d (%s), above its %s, which the brokers require instead (Kafka 3.7+)", n, from, count(rs.replicas, "replica"))})
	case rs.partition < 0:
		rq.add(Requirement{alias, subject, key, OK, fmt.Sprintf("%d (%s); %s in sync once created", n, from, count(rs.inSync, "replica"))})
	default:
		rq.add(Requirement{alias, subject, key, OK, fmt.Sprintf("%d (%s); %s in sync", n, from, count(rs.inSync, "replica"))})
	}
}

func lowerMinInsync(name string, rs replicaState, key string) string {
	if rs.partition < 0 {
		return fmt.Sprintf("raise the replication factor it is created with, or lower the broker's %s", key)
	}
	return fmt.Sprintf("lower it (kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config %s=%d)", name, key, rs.replicas)
}

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
	var toCreate []mirror.Topic
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
		creates, cerr = mirror.CreateTargetTopics(ctx, kadm.NewClient(src), kadm.NewClient(tgt), f, toCreate, true)
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
func (rq *requirer) partitions(f *config.Flow, subject string, t mirror.Topic, st topicState) {
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
func (rq *requirer) cleanupPolicy(f *config.Flow, subject string, t mirror.Topic, source, target settings, toCreate bool) {
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
func (rq *requirer) maxMessageBytes(f *config.Flow, subject string, t mirror.Topic, source, target settings) int64 {
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
// a record as large as a source topic accepts fits a batch, a request
// fits what the brokers read, and the brokers speak the codec.
func (rq *requirer) producer(ctx context.Context, f *config.Flow, v *flowView, big largest) {
	subject := f.Name()
	p := f.Producer
	// Kafka's default max.message.bytes (1048588) is a little above the
	// producer's smallest batch limit (1000012), as it is above MM2's
	// max.request.size (1048576): only a limit raised above it fails.
	const kafkaDefault = 1048588
	switch {
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
