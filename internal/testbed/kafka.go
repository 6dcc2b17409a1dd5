package testbed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/record"
)

// Cluster is an in-process kfake cluster.
type Cluster struct {
	*kfake.Cluster
	Brokers
}

// Brokers is a cluster's bootstrap address, kfake's or Apache Kafka's, with
// the helpers tests use on any cluster. Its clients connect as the test:
// on a secured Apache Kafka cluster, a super user.
type Brokers struct {
	Addr string
}

// NewCluster starts a kfake cluster that stops with the test.
func NewCluster(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &Cluster{Cluster: c, Brokers: Brokers{Addr: c.ListenAddrs()[0]}}
}

// Client is a franz-go client of the cluster, closed with the test.
func (c *Brokers) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(c.Addr, ",")...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Produce writes records, each to its own topic and partition, and fails
// the test on any error.
func (c *Brokers) Produce(t testing.TB, records []*kgo.Record) {
	t.Helper()
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// EndOffsets returns the end offset of every partition of a topic.
func (c *Brokers) EndOffsets(t testing.TB, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(c.Client(t)).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			out[o.Partition] = o.Offset
		}
	})
	return out
}

// Read returns every record of a topic partition up to its end offset,
// committed or not (control records excluded).
func (c *Brokers) Read(t testing.TB, topic string, partition int32, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	end := c.EndOffsets(t, topic)[partition]
	if end == 0 {
		return nil
	}
	cl := c.Client(t, append([]kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().AtStart()}}), kgo.KeepControlRecords()}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s[%d]: %d records before the deadline, end %d", topic, partition, len(out), end)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= end {
				done = true
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
		if done {
			return out
		}
	}
}

// WaitFor polls cond until it holds or the deadline passes.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitUntil polls check until it returns nil, failing t with the last
// error check returned once within has passed: for conditions whose
// failure should say what is still missing.
func WaitUntil(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", within, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SameRecord reports how the record b differs from a in what a mirror
// keeps, as record.Diff compares them.
func SameRecord(a, b *kgo.Record) error {
	if d := record.Diff(a, b); d != nil {
		return fmt.Errorf("%s differ: key %q/%q, value %q/%q, headers %v/%v, timestamp %v/%v",
			strings.Join(d, ", "), a.Key, b.Key, a.Value, b.Value, a.Headers, b.Headers, a.Timestamp, b.Timestamp)
	}
	return nil
}

// NativeConfig is a native kmirror configuration with one flow from
// source to target (aliases "source" and "target"); mirror holds the
// mirror's further lines, indented by four spaces.
func NativeConfig(source, target *Cluster, mirror string) string {
	return NativeConfigAt(source.Addr, target.Addr, mirror)
}

// NativeConfigAt is NativeConfig for clusters at the given bootstrap
// addresses, such as dev-cluster processes.
func NativeConfigAt(source, target, mirror string) string {
	return fmt.Sprintf(`connectCluster: target
clusters:
  - alias: source
    bootstrapServers: %s
  - alias: target
    bootstrapServers: %s
mirrors:
  - sourceCluster: source
    targetCluster: target
%s`, source, target, mirror)
}

// EndTransaction ends cl's transaction, committing or aborting it. When a
// commit is not attempted because the producer ID had an error (a produce
// that failed on a loaded machine), it aborts, as franz-go documents; tests
// that read the committed records back from the source are unaffected.
func EndTransaction(t testing.TB, ctx context.Context, cl *kgo.Client, commit bool) {
	t.Helper()
	err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit))
	if errors.Is(err, kerr.OperationNotAttempted) {
		err = cl.EndTransaction(ctx, kgo.TryAbort)
	}
	if err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}

// RefuseProduce answers a produce request with code for each of its
// partitions, writing nothing: a broker fault for kfake's ControlKey.
func RefuseProduce(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// RefuseFetch answers a fetch request with code for each of its
// partitions, a broker fault for kfake's ControlKey; code 0 makes an
// empty answer.
func RefuseFetch(req *kmsg.FetchRequest, code int16) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
