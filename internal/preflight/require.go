package preflight

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
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
