package batch

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
)

// The producer's tests run on kfake clusters in this process, or, with
// KMIRROR_KAFKA set, on one Apache Kafka node shared by the package's
// tests, which keep apart by their topics' names.

// TestMain stops the shared Apache Kafka clusters after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	testbed.StopShared()
	os.Exit(code)
}

// bed is a source and a target cluster.
type bed struct {
	src, tgt testbed.Brokers
	// tgtFake is the target on kfake, nil on Apache Kafka; kafka is
	// the Apache Kafka cluster, nil on kfake.
	tgtFake *testbed.Cluster
	kafka   *testbed.Kafka
}

// newBed returns a source and a target: two kfake clusters, the target of
// targetBrokers brokers, or the shared Apache Kafka node as both.
func newBed(t *testing.T, targetBrokers int) *bed {
	t.Helper()
	if onKafka() {
		k := testbed.SharedKafka(t, "batch", testbed.KafkaOptions{Config: map[string]string{
			// So that TestStateLost sees the state of an idle producer
			// expire within seconds once it makes it expire.
			"producer.id.expiration.check.interval.ms": "1000",
		}})
		return &bed{src: k.Brokers, tgt: k.Brokers, kafka: k}
	}
	src := testbed.NewCluster(t)
	tgt := testbed.NewCluster(t, kfake.NumBrokers(targetBrokers))
	return &bed{src: src.Brokers, tgt: tgt.Brokers, tgtFake: tgt}
}

// topicName is a topic of the test's own.
func topicName(t *testing.T, suffix string) string {
	return strings.NewReplacer("/", ".", " ", "_", "#", "_").Replace(t.Name()) + "." + suffix
}

func createTopic(t *testing.T, c testbed.Brokers, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(c.Client(t)).CreateTopic(ctx, partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// source writes n records to each partition of a new topic, with a kgo
// producer of codec that batches them up to batchBytes, and returns each
// partition's batches as its leader holds them.
func source(t *testing.T, c testbed.Brokers, topic string, partitions int32, codec kgo.CompressionCodec, n, batchBytes int) map[int32][]Batch {
	t.Helper()
	createTopic(t, c, topic, partitions, nil)
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(50*time.Millisecond), kgo.ProducerBatchMaxBytes(int32(batchBytes)))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range n {
		for p := range partitions {
			r := &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i%7),
				Value:     fmt.Appendf(nil, "%s value %d of partition %d %s", topic, i, p, strings.Repeat("x", i%50)),
				Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
			if i%3 == 0 {
				r.Headers = []kgo.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}, {Key: "empty"}}
			}
			if i%11 == 0 {
				r.Key = nil
			}
			recs = append(recs, r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to the source: %v", err)
	}
	out := map[int32][]Batch{}
	for p := range partitions {
		out[p] = fetchAll(t, c, topic, p)
		if len(out[p]) < 2 {
			t.Fatalf("%s[%d]: %d batches; the test wants several", topic, p, len(out[p]))
		}
	}
	return out
}

// leaderOf returns the leader and id of a topic partition.
func leaderOf(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, partition int32) (int32, [16]byte) {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	for _, mt := range resp.Topics {
		for _, mp := range mt.Partitions {
			if mp.Partition == partition && mp.Leader >= 0 {
				return mp.Leader, mt.TopicID
			}
		}
	}
	t.Fatalf("%s[%d] has no leader", topic, partition)
	return -1, [16]byte{}
}

// fetchAll returns the record batches of a partition, up to its high
// watermark, as its leader holds them, with plain fetch requests.
func fetchAll(t *testing.T, c testbed.Brokers, topic string, partition int32) []Batch {
	t.Helper()
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader, id := leaderOf(t, ctx, cl, topic, partition)
	var out []Batch
	for at := int64(0); ; {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MaxBytes = 100, 32<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, at, 16<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(int(leader)))
		if err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, partition, at, err)
		}
		fp := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(fp.ErrorCode); err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, partition, at, err)
		}
		bs, err := Split(fp.RecordBatches)
		if err != nil {
			t.Fatalf("split %s[%d] at %d: %v", topic, partition, at, err)
		}
		for _, b := range bs {
			if b.NextOffset() > at {
				out = append(out, b)
				at = b.NextOffset()
			}
		}
		if at >= fp.HighWatermark {
			return out
		}
	}
}

// answer is what a batch's done was told.
type answer struct {
	batch int // the batch's index in its partition's Produce order
	base  int64
	err   error
}

// answers gathers what the batches' done are told, by partition.
type answers struct {
	mu  sync.Mutex
	got map[int32][]answer
}

func newAnswers() *answers { return &answers{got: map[int32][]answer{}} }

func (a *answers) done(partition int32, batch int) func(int64, error) {
	return func(base int64, err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.got[partition] = append(a.got[partition], answer{batch, base, err})
	}
}

// of returns the answers of a partition so far.
func (a *answers) of(partition int32) []answer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]answer(nil), a.got[partition]...)
}

func (a *answers) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, g := range a.got {
		n += len(g)
	}
	return n
}

// ordered checks that a partition's n batches were each answered once, in
// order, and returns the answers.
func (a *answers) ordered(t *testing.T, partition int32, n int) []answer {
	t.Helper()
	got := a.of(partition)
	if len(got) != n {
		t.Fatalf("partition %d: %d answers, want %d", partition, len(got), n)
	}
	for i, g := range got {
		if g.batch != i {
			t.Fatalf("partition %d: answer %d is batch %d's: out of order", partition, i, g.batch)
		}
	}
	return got
}

// copyAll produces copies of the batches of each partition to topic, interleaving
// partitions, calls between (if not nil) after every batch, and flushes.
func copyAll(t *testing.T, p *Producer, topic string, batches map[int32][]Batch, a *answers, between func(i int)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; ; i++ {
		more := false
		for part := int32(0); part < int32(len(batches)); part++ {
			if i < len(batches[part]) {
				more = true
				// A copy: the Producer stamps it, and the test compares
				// with the source's.
				if err := p.Produce(ctx, topic, part, slices.Clone(batches[part][i]), a.done(part, i)); err != nil {
					t.Fatalf("produce batch %d of partition %d: %v", i, part, err)
				}
			}
		}
		if !more {
			break
		}
		if between != nil {
			between(i)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (%d answers)", err, a.count())
	}
}

// sameCopy checks that target topic holds each source partition's batches
// once, in order, with the same records sections and at the offsets their
// done were told, and that a consumer reads the same records from both.
func sameCopy(t *testing.T, b *bed, srcTopic, tgtTopic string, src map[int32][]Batch, a *answers) {
	t.Helper()
	for part, sb := range src {
		got := a.ordered(t, part, len(sb))
		tb := fetchAll(t, b.tgt, tgtTopic, part)
		if len(tb) != len(sb) {
			for i, x := range tb {
				t.Logf("target batch %d: offset %d producer %d sequence %d records %d", i, x.BaseOffset(), x.ProducerID(), sequence(x), x.Records())
			}
			t.Fatalf("partition %d: the target has %d batches, the source %d", part, len(tb), len(sb))
		}
		for i := range sb {
			if got[i].err != nil {
				t.Fatalf("partition %d batch %d: %v", part, i, got[i].err)
			}
			if tb[i].Records() != sb[i].Records() || string(tb[i].Section()) != string(sb[i].Section()) || tb[i].Codec() != sb[i].Codec() {
				t.Fatalf("partition %d batch %d: %d records of %s, want %d of %s, sections equal %v", part, i,
					tb[i].Records(), tb[i].Codec(), sb[i].Records(), sb[i].Codec(), string(tb[i].Section()) == string(sb[i].Section()))
			}
			if tb[i].BaseOffset() != got[i].base || tb[i].BaseOffset() != sb[i].BaseOffset() {
				t.Fatalf("partition %d batch %d: at offset %d, done told %d, source at %d", part, i, tb[i].BaseOffset(), got[i].base, sb[i].BaseOffset())
			}
		}
		want, have := b.src.Read(t, srcTopic, part), b.tgt.Read(t, tgtTopic, part)
		if len(want) != len(have) {
			t.Fatalf("partition %d: %d records read from the target, %d from the source", part, len(have), len(want))
		}
		for i := range want {
			if err := testbed.SameRecord(want[i], have[i]); err != nil || want[i].Offset != have[i].Offset {
				t.Fatalf("partition %d record %d at %d/%d: %v", part, i, want[i].Offset, have[i].Offset, err)
			}
		}
	}
}

// producerGoroutines returns the stacks of the goroutines running the
// Producer's code.
func producerGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "batch.(*Producer)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
