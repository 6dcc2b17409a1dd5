package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/batch"
	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// conn is what a flow's run, or its plan, opens on the two clusters: the
// clients and the clusters' ids. It is complete when dial returns and
// never changes.
type conn struct {
	srcCl, tgtCl   *kgo.Client
	srcAdm, tgtAdm *kadm.Client
	// out writes the copies, as batches, through outCl; nil in
	// exactly-once mode (each slot has its producer) and in a dry run.
	out   *batch.Producer
	outCl *kgo.Client
	// clusterID is the source cluster's id; targetID the target's, read
	// only with provenance headers.
	clusterID, targetID string
}

// dial opens the clients of flow f from src to tgt, with a producer when
// produce is set, and reads the clusters' ids. On error it closes what it
// opened.
func dial(ctx context.Context, f *config.Flow, src, tgt *config.Cluster, produce bool, log *slog.Logger) (_ *conn, err error) {
	c := &conn{}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.srcCl, err = kgo.NewClient(append(cluster.Options(src, log), cluster.ConsumerOptions(f.Consumer)...)...); err != nil {
		return nil, fmt.Errorf("source client: %w", err)
	}
	if c.tgtCl, err = kgo.NewClient(cluster.Options(tgt, log)...); err != nil {
		return nil, fmt.Errorf("target client: %w", err)
	}
	c.srcAdm, c.tgtAdm = kadm.NewClient(c.srcCl), kadm.NewClient(c.tgtCl)
	if produce {
		if c.outCl, err = kgo.NewClient(cluster.Options(tgt, log)...); err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		p := f.Producer
		c.out = batch.NewProducer(c.outCl, batch.ProducerOptions{Timeout: p.RequestTimeout, MaxBuffered: p.BufferMemory,
			MaxInFlight: min(max(p.MaxInFlight, 1), 5), MaxRequestBytes: p.MaxRequestSize, DeliveryTimeout: p.DeliveryTimeout,
			Log: log.With("component", "producer")})
	}
	md, err := c.srcAdm.BrokerMetadata(ctx)
	if err != nil {
		return nil, cluster.Explain(src, err)
	}
	c.clusterID = md.Cluster
	if f.ProvenanceHeader {
		tmd, err := c.tgtAdm.BrokerMetadata(ctx)
		if err != nil {
			return nil, cluster.Explain(tgt, err)
		}
		c.targetID = tmd.Cluster
	}
	return c, nil
}

// closeProducer closes the producer, failing what it still holds.
func (c *conn) closeProducer() {
	if c.out != nil {
		c.out.Close()
		c.outCl.Close()
	}
}

func (c *conn) close() {
	c.closeProducer()
	for _, cl := range []*kgo.Client{c.srcCl, c.tgtCl} {
		if cl != nil {
			cl.Close()
		}
	}
}

// copyProducerOptions are the options of a producer of copies in
// exactly-once mode: the flow's producer settings, each record to the
// partition it names, and no linger.
// A fetch of a partition reaches the producer whole, so it already makes
// full batches; a linger would only hold the last of them back (the seed's
// 1500 ms made kmirror's latency seven times MM2's, whose Java producer
// sends a batch once it holds batch.size bytes).
func copyProducerOptions(f *config.Flow, tgt *config.Cluster, log *slog.Logger) []kgo.Opt {
	return slices.Concat(cluster.Options(tgt, log), cluster.ProducerOptions(f.Producer),
		[]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)})
}
