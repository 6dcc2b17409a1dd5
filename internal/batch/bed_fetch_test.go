package batch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
)

// The fetcher's tests run on either bed: kfake clusters in this process
// (the default), or, with KMIRROR_KAFKA set, one Apache Kafka cluster of
// three nodes shared by the package's tests, which keep apart by topic
// names of their own.

// bedNodes is the number of brokers of every bed: leaders can move.
const bedNodes = 3

// fetchBed is the cluster a test fetches from.
type fetchBed struct {
	testbed.Brokers
	fake *testbed.Cluster // kfake, or nil on Apache Kafka
}

func onKafka() bool { return testbed.KafkaJars() != "" }

// newFetchBed returns a kfake cluster of the test's own, or the shared Apache
// Kafka cluster.
func newFetchBed(t testing.TB) *fetchBed {
	t.Helper()
	if !onKafka() {
		c := testbed.NewCluster(t, kfake.NumBrokers(bedNodes))
		return &fetchBed{Brokers: c.Brokers, fake: c}
	}
	k := testbed.SharedKafka(t, "fetch", testbed.KafkaOptions{Nodes: bedNodes, Heap: "512m"})
	return &fetchBed{Brokers: k.Brokers}
}

// admin is a kadm client of the bed whose metadata is never more than
// 20ms old (kadm.Metadata reads franz-go's cache, 5s old by default).
func (b *fetchBed) admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(b.Client(t, kgo.MetadataMinAge(20*time.Millisecond)))
}

// topic creates a topic of a name unique to the run and waits until every
// broker knows a leader of each of its partitions.
func (b *fetchBed) topic(t testing.TB, name string, partitions int32) string {
	t.Helper()
	return b.topicOf(t, name, partitions, -1)
}

// topicOf is topic with replicas replicas of each partition (-1: the
// cluster's default).
func (b *fetchBed) topicOf(t testing.TB, name string, partitions int32, replicas int16) string {
	t.Helper()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name = name + "-" + hex.EncodeToString(suffix[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := b.Client(t)
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, replicas, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	// Brokers learn of the topic one after the other; a producer or
	// fetcher that asks one that has not yet waits out franz-go's
	// metadata age (5s).
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, rt)
	md, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	testbed.WaitUntil(t, time.Minute, "every broker to know "+name, func() error {
		for _, broker := range md.Brokers {
			id := broker.NodeID
			md, err := req.RequestWith(ctx, cl.Broker(int(id)))
			if err != nil {
				return fmt.Errorf("broker %d: %w", id, err)
			}
			if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != int(partitions) {
				return fmt.Errorf("broker %d does not know the topic yet", id)
			}
			for _, p := range md.Topics[0].Partitions {
				if p.Leader < 0 {
					return fmt.Errorf("broker %d: partition %d has no leader", id, p.Partition)
				}
			}
		}
		return nil
	})
	return name
}

// produce writes recs with codec, each to its own partition, the records
// of a partition in one batch, and returns them with their offsets.
func (b *fetchBed) produce(t testing.TB, codec kgo.CompressionCodec, recs []*kgo.Record, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := b.Client(t, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ManualFlushing(),
		kgo.ProducerBatchCompression(codec), kgo.ProducerBatchMaxBytes(16 << 20), kgo.MaxBufferedRecords(1 << 20)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, r := range recs {
		wg.Add(1)
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("produce: %v", errs[0])
	}
	return recs
}

// records makes n records of partition p of topic, whose values, of size
// bytes each, compress little.
func records(topic string, p int32, n, size int) []*kgo.Record {
	out := make([]*kgo.Record, n)
	for i := range out {
		v := make([]byte, size)
		_, _ = rand.Read(v[:size/2]) // half random, half zeros
		out[i] = &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i), Value: v,
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{byte(i)}}}}
	}
	return out
}

// fetcher is a Fetcher of the bed, closed with the test.
func (b *fetchBed) fetcher(t testing.TB, o FetchOptions, opts ...kgo.Opt) *Fetcher {
	t.Helper()
	if o.MaxWait == 0 {
		o.MaxWait = 200 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = testbed.Logger(t)
	}
	f := NewFetcher(b.Client(t, opts...), o)
	t.Cleanup(f.Close)
	return f
}

// stream checks what a Fetcher returns for the partitions of a topic as
// it comes: in offset order, each batch once, from where each partition was
// added or set, and decodes the records.
type stream struct {
	topic string
	next  map[int32]int64 // the offset after the last batch seen
	recs  map[int32][]*kgo.Record
	polls [][]Fetched // every Fetched of every poll, in order
}

func newStream(topic string, from map[int32]int64) *stream {
	s := &stream{topic: topic, next: map[int32]int64{}, recs: map[int32][]*kgo.Record{}}
	for p, o := range from {
		s.next[p] = o
	}
	return s
}

// add checks one Fetched: it asks for the offset after the last batch
// returned, begins with the batch that holds it, and its batches follow
// each other.
func (s *stream) add(t testing.TB, f Fetched) {
	t.Helper()
	if f.Topic != s.topic {
		t.Fatalf("fetched topic %q, want %q", f.Topic, s.topic)
	}
	if f.Err != nil {
		t.Fatalf("%s[%d] at %d: %v", f.Topic, f.Partition, f.Offset, f.Err)
	}
	want, ok := s.next[f.Partition]
	if !ok {
		t.Fatalf("fetched partition %d, not asked for", f.Partition)
	}
	if f.Offset != want {
		t.Fatalf("partition %d: fetched at offset %d, want %d (the offset after the last batch returned)", f.Partition, f.Offset, want)
	}
	bs, err := Split(f.Records)
	if err != nil || len(bs) == 0 {
		t.Fatalf("partition %d at %d: %d batches, %v", f.Partition, f.Offset, len(bs), err)
	}
	if first := bs[0]; first.BaseOffset() > f.Offset || first.NextOffset() <= f.Offset {
		t.Fatalf("partition %d at %d: first batch [%d, %d) does not hold it", f.Partition, f.Offset, first.BaseOffset(), first.NextOffset())
	}
	at := bs[0].BaseOffset()
	for _, b := range bs {
		if b.BaseOffset() != at {
			t.Fatalf("partition %d: batch at %d after one that ends at %d", f.Partition, b.BaseOffset(), at)
		}
		at = b.NextOffset()
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: f.Topic, Partition: f.Partition, Offset: f.Offset},
		&kmsg.FetchResponseTopicPartition{Partition: f.Partition, RecordBatches: f.Records}, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil {
		t.Fatalf("partition %d at %d: decode: %v", f.Partition, f.Offset, fp.Err)
	}
	s.recs[f.Partition] = append(s.recs[f.Partition], fp.Records...)
	s.next[f.Partition] = at
}

// until polls f, checking what comes, until every partition of ends
// reaches its end offset.
func (s *stream) until(t testing.TB, f *Fetcher, ends map[int32]int64, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for !s.reached(ends) {
		fs := f.Poll(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after %s: at %v, want %v", within, s.next, ends)
		}
		s.polls = append(s.polls, fs)
		for _, x := range fs {
			s.add(t, x)
		}
	}
}

func (s *stream) reached(ends map[int32]int64) bool {
	for p, end := range ends {
		if s.next[p] < end {
			return false
		}
	}
	return true
}

// same checks that the records decoded are those produced, offsets
// included, each once.
func (s *stream) same(t testing.TB, produced []*kgo.Record) {
	t.Helper()
	want := map[int32][]*kgo.Record{}
	for _, r := range produced {
		want[r.Partition] = append(want[r.Partition], r)
	}
	for p, w := range want {
		got := s.recs[p]
		if len(got) != len(w) {
			t.Fatalf("partition %d: %d records fetched, %d produced", p, len(got), len(w))
		}
		for i := range w {
			if got[i].Offset != w[i].Offset {
				t.Fatalf("partition %d: record %d at offset %d, produced at %d", p, i, got[i].Offset, w[i].Offset)
			}
			if err := testbed.SameRecord(w[i], got[i]); err != nil {
				t.Fatalf("partition %d offset %d: %v", p, w[i].Offset, err)
			}
		}
	}
}

// ends returns the end offset of each partition of the records.
func ends(recs []*kgo.Record) map[int32]int64 {
	out := map[int32]int64{}
	for _, r := range recs {
		out[r.Partition] = max(out[r.Partition], r.Offset+1)
	}
	return out
}

// holds says whether f holds, for Poll, a fetch of the partition.
func holds(f *Fetcher, topic string, partition int32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.queue, func(q held) bool { return q.Topic == topic && q.Partition == partition })
}

// from returns offsets for Add: every partition of topic at offset.
func from(topic string, partitions int32, offset int64) map[string]map[int32]int64 {
	m := map[int32]int64{}
	for p := range partitions {
		m[p] = offset
	}
	return map[string]map[int32]int64{topic: m}
}

// countingLog is the test's logger, counting the records whose message is
// msg, whatever their level.
func countingLog(t testing.TB, msg string) (*slog.Logger, *atomic.Int32) {
	n := new(atomic.Int32)
	return slog.New(countHandler{testbed.Logger(t).Handler(), msg, n}), n
}

type countHandler struct {
	slog.Handler
	msg string
	n   *atomic.Int32
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h countHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h countHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countHandler{h.Handler.WithAttrs(as), h.msg, h.n}
}

func (h countHandler) WithGroup(name string) slog.Handler {
	return countHandler{h.Handler.WithGroup(name), h.msg, h.n}
}
