package preflight

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// settings are configs of a topic or broker as a cluster reported them,
// or why it did not: read once, asked by key.
type settings struct {
	values map[string]string
	// from says where they were read, for messages.
	from string
	err  error
}

// get returns a config's value; ok is false, with the reason, when it is
// not known.
func (s settings) get(key string) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	v, ok := s.values[key]
	if !ok {
		return "", fmt.Errorf("%s do not include %s", s.from, key)
	}
	return v, nil
}

// number returns a config's value as a number.
func (s settings) number(key string) (int64, error) {
	v, err := s.get(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number", key, v)
	}
	return n, nil
}

// clusterFacts are what preflight read of a cluster as a whole.
type clusterFacts struct {
	brokers int
	// config are the configs of one of its brokers: the defaults of the
	// topics it creates and the limits of the requests it takes.
	config settings
	// produceVersion is the highest Produce version all brokers speak.
	produceVersion int16
}

func readClusterFacts(ctx context.Context, cl *kgo.Client) (clusterFacts, error) {
	adm := kadm.NewClient(cl)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return clusterFacts{}, err
	}
	f := clusterFacts{brokers: len(md.Brokers), config: settings{from: "the broker's configs"}, produceVersion: -1}
	if len(md.Brokers) > 0 {
		f.config = brokerSettings(ctx, adm, md.Brokers[0].NodeID)
	}
	if versions, err := adm.ApiVersions(ctx); err == nil {
		for _, b := range versions {
			if b.Err != nil {
				continue
			}
			if v, ok := b.KeyMaxVersion(int16(kmsg.Produce)); ok && (f.produceVersion < 0 || v < f.produceVersion) {
				f.produceVersion = v
			}
		}
	}
	return f, nil
}

func brokerSettings(ctx context.Context, adm *kadm.Client, broker int32) settings {
	s := settings{from: "the broker's configs"}
	rcs, err := adm.DescribeBrokerConfigs(ctx, broker)
	if err == nil && len(rcs) == 1 {
		err = rcs[0].Err
	}
	if err != nil {
		if errors.Is(err, kerr.ClusterAuthorizationFailed) {
			err = errors.New("reading the broker's configs needs DescribeConfigs on the cluster")
		}
		s.err = err
		return s
	}
	s.values = map[string]string{}
	for _, c := range rcs[0].Configs {
		if c.Value != nil {
			s.values[c.Key] = *c.Value
		}
	}
	return s
}

// topicSettings reads the configs of topics, each answered on its own: a
// topic whose configs the user may not read does not hide the others.
func topicSettings(ctx context.Context, cl *kgo.Client, names []string) map[string]settings {
	out := map[string]settings{}
	if len(names) == 0 {
		return out
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, name := range names {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, name
		req.Resources = append(req.Resources, r)
	}
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			for _, r := range shard.Req.(*kmsg.DescribeConfigsRequest).Resources {
				out[r.ResourceName] = settings{err: shard.Err}
			}
			continue
		}
		for _, r := range shard.Resp.(*kmsg.DescribeConfigsResponse).Resources {
			s := settings{from: fmt.Sprintf("the configs of topic %q", r.ResourceName), err: kerr.ErrorForCode(r.ErrorCode)}
			if errors.Is(s.err, kerr.TopicAuthorizationFailed) {
				s.err = fmt.Errorf("reading its configs needs DescribeConfigs on topic:%s", r.ResourceName)
			}
			s.values = map[string]string{}
			for _, c := range r.Configs {
				if c.Value != nil {
					s.values[c.Name] = *c.Value
				}
			}
			out[r.ResourceName] = s
		}
	}
	for _, name := range names {
		if _, ok := out[name]; !ok {
			out[name] = settings{err: errors.New("no answer from the broker")}
		}
	}
	return out
}

// created are the settings a validate-only CreateTopics answered with:
// what the topic would get (Kafka 2.4+ answers with every config; kfake
// with those asked for).
func created(r kadm.CreateTopicResponse) settings {
	s := settings{from: fmt.Sprintf("the configs topic %q would be created with", r.Topic), values: map[string]string{}}
	for k, c := range r.Configs {
		if c.Value != nil {
			s.values[k] = *c.Value
		}
	}
	return s
}

// orDefault takes a topic config from s, else its broker default from
// the cluster.
func orDefault(s settings, c clusterFacts, key string) (string, string, error) {
	if v, err := s.get(key); err == nil {
		return v, s.from, nil
	}
	bkey := map[string]string{"min.insync.replicas": "min.insync.replicas", "max.message.bytes": "message.max.bytes",
		"cleanup.policy": "log.cleanup.policy", "compression.type": "compression.type"}[key]
	v, err := c.config.get(bkey)
	if err != nil {
		return "", "", err
	}
	return v, "the broker's " + bkey, nil
}
