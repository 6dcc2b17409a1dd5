package cluster

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
)

// ProducerOptions maps a flow's producer settings onto franz-go.
func ProducerOptions(p config.Producer) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ProducerBatchMaxBytes(p.BatchSize),
		kgo.BrokerMaxWriteBytes(p.MaxRequestSize),
		kgo.ProducerLinger(p.Linger),
		kgo.MaxBufferedBytes(int(p.BufferMemory)),
		kgo.ProducerBatchCompression(Compression(p.Compression)),
		// A target that drops connections (a broker restarting) must be
		// ridden out: without this, franz-go takes an EOF on a new
		// connection for a TLS or SASL mistake and fails the records.
		// Those mistakes are reported clearly before the producer writes:
		// every cluster is checked at start.
		kgo.AlwaysRetryEOF(),
	}
	if p.RequestTimeout > 0 {
		opts = append(opts, kgo.ProduceRequestTimeout(p.RequestTimeout))
	}
	switch p.Acks {
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !p.Idempotent {
		// franz-go caps in-flight requests itself for idempotent writes.
		opts = append(opts, kgo.DisableIdempotentWrite())
		if p.MaxInFlight > 0 {
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(p.MaxInFlight))
		}
	}
	if p.DeliveryTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(p.DeliveryTimeout))
	}
	if p.Retries >= 0 {
		opts = append(opts, kgo.RecordRetries(p.Retries))
	}
	return opts
}

// Compression maps compression.type onto franz-go's codec.
func Compression(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// ConsumerOptions maps a flow's consumer settings onto franz-go.
func ConsumerOptions(c config.Consumer) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.FetchMaxBytes(c.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(c.MaxPartitionFetchBytes),
		kgo.FetchMinBytes(c.FetchMinBytes),
		kgo.FetchMaxWait(c.FetchMaxWait),
	}
	if c.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	return opts
}
