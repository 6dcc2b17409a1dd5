package cluster

import "github.com/twmb/franz-go/pkg/kgo"

func kgoClient(opts []kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append(opts, kgo.SeedBrokers("127.0.0.1:1"))...)
}
