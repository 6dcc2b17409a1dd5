// Package workload is what the benchmark harness and its client processes
// share: the records a run writes, and the franz-go options of a kmirror
// configuration, so that the raw-limit clients use kmirror's own settings.
package workload

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// Key distributions.
const (
	KeysNone    = "none"    // no key; records spread round-robin over partitions
	KeysUniform = "uniform" // one of DistinctKeys keys, uniformly; partition by key hash
	KeysZipf    = "zipf"    // one of DistinctKeys keys, Zipf-skewed (s=1.1): hot partitions
)

// DistinctKeys is how many keys the keyed distributions draw from.
const DistinctKeys = 100_000

// Spec describes the records of a run.
type Spec struct {
	Records    int
	Size       int // value bytes
	Partitions int
	Keys       string
	Seed       uint64
}

// Validate reports a spec the harness cannot run.
func (s Spec) Validate() error {
	switch {
	case s.Records < 1:
		return fmt.Errorf("records %d: must be positive", s.Records)
	case s.Size < 1:
		return fmt.Errorf("size %d: must be positive", s.Size)
	case s.Partitions < 1:
		return fmt.Errorf("partitions %d: must be positive", s.Partitions)
	}
	switch s.Keys {
	case KeysNone, KeysUniform, KeysZipf:
		return nil
	}
	return fmt.Errorf("keys %q: must be none, uniform or zipf", s.Keys)
}

// Generator makes records of a spec. Values are slices of one pool of
// text: random words of a 4 096-word vocabulary, with JSON-like
// punctuation, so that every codec finds repeats to compress (about 2.1:1
// with gzip, 1.5:1 Snappy, 1.7:1 LZ4, 3:1 zstd), and so that generating a
// million records costs little memory and time.
type Generator struct {
	spec Spec
	rng  *rand.Rand
	zipf *rand.Zipf
	pool []byte
	keys [][]byte
	n    int
}

// NewGenerator returns a generator; seed makes the run reproducible.
func NewGenerator(s Spec, seed uint64) *Generator {
	rng := rand.New(rand.NewPCG(seed, s.Seed))
	g := &Generator{spec: s, rng: rng}
	g.pool = textPool(rng, max(8<<20, 4*s.Size))
	if s.Keys != KeysNone {
		g.keys = make([][]byte, DistinctKeys)
		for i := range g.keys {
			g.keys[i] = []byte("key-" + strconv.Itoa(i))
		}
		if s.Keys == KeysZipf {
			g.zipf = rand.NewZipf(rng, 1.1, 1, DistinctKeys-1)
		}
	}
	return g
}

// textPool returns n bytes of words and punctuation.
func textPool(rng *rand.Rand, n int) []byte {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	words := make([][]byte, 4096)
	for i := range words {
		w := make([]byte, 3+rng.IntN(8))
		for j := range w {
			w[j] = letters[rng.IntN(len(letters))]
		}
		words[i] = w
	}
	seps := [][]byte{[]byte(`":"`), []byte(`","`), []byte(` `), []byte(`":`), []byte(`,"`)}
	pool := make([]byte, 0, n+16)
	for len(pool) < n {
		pool = append(pool, words[rng.IntN(len(words))]...)
		pool = append(pool, seps[rng.IntN(len(seps))]...)
	}
	return pool[:n]
}

// Next returns the next record for topic, its partition chosen as a keyed
// producer would, its timestamp zero (franz-go sets it when producing).
func (g *Generator) Next(topic string) *kgo.Record {
	off := g.rng.IntN(len(g.pool) - g.spec.Size)
	r := &kgo.Record{Topic: topic, Value: g.pool[off : off+g.spec.Size : off+g.spec.Size]}
	switch g.spec.Keys {
	case KeysNone:
		r.Partition = int32(g.n % g.spec.Partitions)
	case KeysUniform:
		r.Key = g.keys[g.rng.IntN(len(g.keys))]
	case KeysZipf:
		r.Key = g.keys[g.zipf.Uint64()]
	}
	if r.Key != nil {
		h := fnv.New32a()
		h.Write(r.Key)
		r.Partition = int32(h.Sum32() % uint32(g.spec.Partitions))
	}
	g.n++
	return r
}

// All returns n records for topic.
func (g *Generator) All(topic string, n int) []*kgo.Record {
	out := make([]*kgo.Record, n)
	for i := range out {
		out[i] = g.Next(topic)
	}
	return out
}

// Bytes is what a record weighs for throughput figures: key and value.
func Bytes(r *kgo.Record) int64 { return int64(len(r.Key) + len(r.Value)) }

// Clients are the franz-go options kmirror derives from a configuration's
// first flow: the source consumer's and the target producer's.
type Clients struct {
	Source, Target []kgo.Opt // connection options
	Consumer       []kgo.Opt
	Producer       []kgo.Opt
	// SourceProducer writes the source (the load, the steady load): the
	// producer's options unless the harness asks for another codec.
	SourceProducer   []kgo.Opt
	SourceBootstrap  []string
	TargetBootstrap  []string
	ProducerSettings config.Producer
}

// Load reads a kmirror configuration and maps it as kmirror does.
func Load(path string) (*Clients, error) {
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		return nil, err
	}
	if len(cfg.Flows) == 0 {
		return nil, fmt.Errorf("%s: no flow", path)
	}
	f := cfg.Flows[0]
	src, tgt := cfg.Cluster(f.Source), cfg.Cluster(f.Target)
	c := &Clients{
		Source:           cluster.Options(src, nil),
		Target:           cluster.Options(tgt, nil),
		Consumer:         cluster.ConsumerOptions(f.Consumer),
		Producer:         append(cluster.ProducerOptions(f.Producer), kgo.RecordPartitioner(kgo.ManualPartitioner())),
		SourceProducer:   append(cluster.ProducerOptions(f.Producer), kgo.RecordPartitioner(kgo.ManualPartitioner())),
		SourceBootstrap:  src.Bootstrap,
		TargetBootstrap:  tgt.Bootstrap,
		ProducerSettings: f.Producer,
	}
	return c, nil
}

// Result is what a client process measured, printed as one JSON line.
type Result struct {
	Records int64   `json:"records"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	// CPUSeconds is user+system time of the process over the measurement.
	CPUSeconds float64 `json:"cpu_seconds"`
	// BrokerCPUSeconds is the CPU time both brokers used meanwhile (set
	// by the harness).
	BrokerCPUSeconds float64 `json:"broker_cpu_seconds,omitempty"`
	// MaxRSS is the process's peak resident set, in bytes.
	MaxRSS int64 `json:"max_rss"`
	// FetchSeconds and ProduceSeconds time each side of a concurrent run.
	FetchSeconds   float64 `json:"fetch_seconds,omitempty"`
	ProduceSeconds float64 `json:"produce_seconds,omitempty"`
	// Latencies (steady mode): record timestamp to visible on the target.
	P50, P99, Max time.Duration `json:",omitempty"`
	Rate          float64       `json:"rate,omitempty"`   // achieved records/s
	Target        float64       `json:"target,omitempty"` // asked records/s (set by the harness)
}
