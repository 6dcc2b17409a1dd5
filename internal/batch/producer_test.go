package batch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
)

// TestProduceCopies: batches of every codec land byte for byte: the same
// records sections, one target batch per source batch at the offsets done
// reported, stamped with one producer id and sequences from 0; a consumer
// reads the same records from both; the Producer leaves no goroutine.
func TestProduceCopies(t *testing.T) {
	for _, tt := range []struct {
		codec kgo.CompressionCodec
		want  Codec
	}{{kgo.NoCompression(), None}, {kgo.GzipCompression(), Gzip}, {kgo.Lz4Compression(), Lz4}, {kgo.ZstdCompression(), Zstd}} {
		t.Run(tt.want.String(), func(t *testing.T) {
			b := newBed(t, 1)
			srcTopic, tgtTopic := topicName(t, "src"), topicName(t, "tgt")
			src := source(t, b.src, srcTopic, 3, tt.codec, 400, 4096)
			for _, sb := range src {
				if sb[0].Codec() != tt.want {
					t.Fatalf("the source's batches are of %s", sb[0].Codec())
				}
			}
			createTopic(t, b.tgt, tgtTopic, 3, nil)

			p := NewProducer(b.tgt.Client(t), ProducerOptions{Log: testbed.Logger(t)})
			a := newAnswers()
			copyAll(t, p, tgtTopic, src, a, nil)
			p.Close()
			sameCopy(t, b, srcTopic, tgtTopic, src, a)

			for part := range src {
				tb := fetchAll(t, b.tgt, tgtTopic, part)
				seq := int32(0)
				for i, x := range tb {
					if x.ProducerID() != tb[0].ProducerID() || x.ProducerID() < 0 || sequence(x) != seq {
						t.Fatalf("partition %d batch %d: producer %d sequence %d, want producer %d sequence %d", part, i, x.ProducerID(), sequence(x), tb[0].ProducerID(), seq)
					}
					seq += x.Records()
				}
			}
			if g := producerGoroutines(); g != "" {
				t.Fatalf("goroutines left after Close:\n%s", g)
			}
		})
	}
}

// sequence is the base sequence a batch carries.
func sequence(b Batch) int32 { return int32(binary.BigEndian.Uint32(b[offSequence:])) }

// TestProduceFaults: batches land once each, in order, at the offsets done
// reported, while the target refuses requests (NOT_LEADER_OR_FOLLOWER),
// drops connections, answers REQUEST_TIMED_OUT for batches it wrote, and
// moves the partitions' leaders (kfake); or while the broker is killed and
// started again (Apache Kafka). None of it takes a new producer id.
func TestProduceFaults(t *testing.T) {
	b := newBed(t, 3)
	srcTopic, tgtTopic := topicName(t, "src"), topicName(t, "tgt")
	src := source(t, b.src, srcTopic, 3, kgo.Lz4Compression(), 600, 2048)
	createTopic(t, b.tgt, tgtTopic, 3, nil)

	var inits atomic.Int64
	cl := b.tgt.Client(t, kgo.WithHooks(countAnswers{kmsg.InitProducerID, &inits}), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	var between func(int)
	var requests, faults atomic.Int64
	var timedOut *kfake.FaultHandle
	a := newAnswers()
	half := len(src[0]) / 2
	// inFlow waits until the Producer writes: batches are in flight.
	inFlow := func() { testbed.WaitFor(t, time.Minute, "batches answered", func() bool { return a.count() >= half }) }
	if b.tgtFake != nil {
		b.tgtFake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
			b.tgtFake.KeepControl()
			switch n := requests.Add(1); {
			case n%5 == 2:
				faults.Add(1)
				return testbed.RefuseProduce(req.(*kmsg.ProduceRequest), kerr.NotLeaderForPartition.Code), nil, true
			case n%7 == 3:
				faults.Add(1)
				return nil, errors.New("connection dropped"), true
			}
			return nil, nil, false
		})
		// The work is done, but the answer says it timed out.
		timedOut = b.tgtFake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tgtTopic, Err: kerr.RequestTimedOut, Count: 3})
		between = func(i int) {
			if i == half {
				inFlow()
				for part := range int32(3) {
					leader := b.tgtFake.LeaderFor(tgtTopic, part)
					if err := b.tgtFake.MoveTopicPartition(tgtTopic, part, (leader+1)%3); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	} else {
		node := b.kafka.Nodes()[0]
		between = func(i int) {
			if i == half {
				inFlow()
				node.Kill()
				node.Restart(t)
			}
		}
	}
	p := NewProducer(cl, ProducerOptions{Log: testbed.Logger(t)})
	defer p.Close()
	copyAll(t, p, tgtTopic, src, a, between)
	sameCopy(t, b, srcTopic, tgtTopic, src, a)
	if b.tgtFake != nil && (faults.Load() < 5 || timedOut.Hits() != 3) {
		t.Fatalf("%d requests refused or dropped, %d timed out: too few faults to test", faults.Load(), timedOut.Hits())
	}
	if n := inits.Load(); n != 1 {
		t.Fatalf("%d producer ids granted, want 1", n)
	}
}

// countAnswers counts the answers to requests of one key a client reads.
type countAnswers struct {
	key kmsg.Key
	n   *atomic.Int64
}

func (c countAnswers) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == int16(c.key) && err == nil {
		c.n.Add(1)
	}
}

// TestRetrySameBytes: when the answer to a request the broker handled is
// lost, the batches are sent again, the same bytes, and the broker answers
// with the offsets it gave them the first time (it keeps the last 5
// batches of a producer): done reports those, and the target holds each
// batch once.
func TestRetrySameBytes(t *testing.T) {
	b := newBed(t, 1)
	srcTopic, tgtTopic := topicName(t, "src"), topicName(t, "tgt")
	src := source(t, b.src, srcTopic, 2, kgo.ZstdCompression(), 500, 2048)
	createTopic(t, b.tgt, tgtTopic, 2, nil)

	l := &lossy{drop: map[int]bool{2: true, 5: true, 6: true, 11: true}}
	p := NewProducer(b.tgt.Client(t, kgo.Dialer(l.dial)), ProducerOptions{Log: testbed.Logger(t)})
	defer p.Close()
	a := newAnswers()
	copyAll(t, p, tgtTopic, src, a, nil)
	sameCopy(t, b, srcTopic, tgtTopic, src, a)

	lost := l.answersLost()
	l.mu.Lock()
	t.Logf("%d produce requests of v%d, %d answers lost", l.produces, l.version, len(lost))
	l.mu.Unlock()
	if len(lost) < 2 {
		t.Fatalf("%d answers lost; the test wants several", len(lost))
	}
	for _, resp := range lost {
		if resp == nil {
			t.Fatal("a lost answer does not read as a produce response")
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					t.Fatalf("a lost answer is an error: %v", kerr.ErrorForCode(rp.ErrorCode))
				}
				// The batch the broker wrote then is the one done was
				// told of, after the retry.
				found := false
				for _, g := range a.of(rp.Partition) {
					found = found || g.base == rp.BaseOffset
				}
				if !found {
					t.Fatalf("partition %d: the lost answer's offset %d is no batch's", rp.Partition, rp.BaseOffset)
				}
			}
		}
	}
}

// TestBrokerDedup: the broker answers a batch sent again with the offset it
// gave it, while it is among the producer's last 5 batches: what the
// Producer's retries rely on (MaxInFlight at most 5).
func TestBrokerDedup(t *testing.T) {
	b := newBed(t, 1)
	topic := topicName(t, "tgt")
	createTopic(t, b.tgt, topic, 1, nil)
	cl := b.tgt.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := initProducerID(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	leader, _ := leaderOf(t, ctx, cl, topic, 0)
	e, _ := NewEncoder(Gzip, 1<<20)
	var sent [][]byte
	seq := int32(0)
	for i := range 6 {
		raw, _ := e.Encode(nil, []*kgo.Record{{Value: fmt.Appendf(nil, "a%d", i), Timestamp: time.Now()}, {Value: []byte("b"), Timestamp: time.Now()}})
		sent = append(sent, Batch(raw).AppendFor(nil, Stamp{ID: id.ID, Epoch: id.Epoch, Sequence: seq}))
		seq = nextSequence(seq, 2)
	}
	produce := func(w []byte) (int64, error) {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = w
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		r := &request{ProduceRequest: *req, noIDs: true, issued: make(chan struct{})} // v12 at most: the request names the topic
		kresp, err := cl.Broker(int(leader)).Request(ctx, r)
		if err != nil {
			return 0, err
		}
		got := kresp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		return got.BaseOffset, kerr.ErrorForCode(got.ErrorCode)
	}
	var offsets []int64
	for i, w := range sent[:5] {
		o, err := produce(w)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		offsets = append(offsets, o)
	}
	for i := range 5 {
		o, err := produce(sent[i])
		if err != nil || o != offsets[i] {
			t.Fatalf("batch %d sent again: offset %d, %v; want %d, no error", i, o, err, offsets[i])
		}
	}
	if o, err := produce(sent[5]); err != nil || o != offsets[4]+2 {
		t.Fatalf("the next batch: offset %d, %v; want %d", o, err, offsets[4]+2)
	}
	if ends := b.tgt.EndOffsets(t, topic); ends[0] != 12 {
		t.Fatalf("the partition ends at %d, want 12: a batch sent again was written again", ends[0])
	}
}

// TestStateLost: when the target answers a partition's first batch not
// answered with OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID (it
// lost the producer's state), the Producer gets a new producer id, logs it
// once, and writes every batch not answered anew with sequences from 0:
// all land once, in order (kfake). Apache Kafka (2.5+) instead accepts the
// next sequence of a producer whose state expired: nothing is refused, no
// new id is needed, and the batches still land once, in order.
func TestStateLost(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.OutOfOrderSequenceNumber, kerr.UnknownProducerID} {
		t.Run(code.Message, func(t *testing.T) {
			if onKafka() && code != kerr.OutOfOrderSequenceNumber {
				t.Skip("Apache Kafka: the state expires once; one subtest shows it")
			}
			b := newBed(t, 1)
			srcTopic, tgtTopic := topicName(t, "src"), topicName(t, "tgt")
			src := source(t, b.src, srcTopic, 2, kgo.GzipCompression(), 300, 2048)
			createTopic(t, b.tgt, tgtTopic, 2, nil)

			var inits atomic.Int64
			logs := &syncBuffer{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p := NewProducer(b.tgt.Client(t, kgo.WithHooks(countAnswers{kmsg.InitProducerID, &inits})), ProducerOptions{MaxInFlight: 1, Log: log})
			defer p.Close()
			a := newAnswers()
			half := map[int32][]Batch{0: src[0][:len(src[0])/2], 1: src[1][:len(src[1])/2]}
			rest := map[int32][]Batch{0: src[0][len(src[0])/2:], 1: src[1][len(src[1])/2:]}
			copyAll(t, p, tgtTopic, half, a, nil)

			if b.tgtFake != nil {
				refused := false
				b.tgtFake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
					refused = true
					return testbed.RefuseProduce(req.(*kmsg.ProduceRequest), code.Code), nil, true
				})
				defer func() {
					if !refused {
						t.Error("no produce request was refused")
					}
				}()
			} else {
				expire(t, b, tgtTopic, 2)
			}
			// Answers keep counting from the first half's.
			for part, bs := range rest {
				for i, x := range bs {
					if err := p.Produce(context.Background(), tgtTopic, part, slices.Clone(x), a.done(part, len(half[part])+i)); err != nil {
						t.Fatal(err)
					}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			sameCopy(t, b, srcTopic, tgtTopic, src, a)

			wantInits, wantLogs := 2, 1
			if onKafka() {
				wantInits, wantLogs = 1, 0
			}
			if n := inits.Load(); n != int64(wantInits) {
				t.Errorf("%d producer ids granted, want %d", n, wantInits)
			}
			if n := strings.Count(logs.String(), `level=INFO msg="the target lost the producer's state: writing on with a new producer id"`); n != wantLogs {
				t.Errorf("logged a new producer id %d times, want %d:\n%s", n, wantLogs, logs)
			}
			if onKafka() {
				return
			}
			// The first half with one producer id; from the refused
			// batch (the first of the second half in the refused
			// request, or a later one of a partition it did not
			// hold) another, from sequence 0.
			for part := range src {
				tb := fetchAll(t, b.tgt, tgtTopic, part)
				h, at := len(half[part]), -1
				for i, x := range tb {
					if x.ProducerID() != tb[0].ProducerID() {
						at = i
						break
					}
				}
				if at < h || sequence(tb[at]) != 0 {
					t.Fatalf("partition %d: a new producer id from batch %d (sequence %d); want one from batch %d or later, from sequence 0", part, at, sequence(tb[max(at, 0)]), h)
				}
				for i, x := range tb[at:] {
					if x.ProducerID() != tb[at].ProducerID() {
						t.Fatalf("partition %d batch %d: producer %d, want %d", part, at+i, x.ProducerID(), tb[at].ProducerID())
					}
				}
			}
		})
	}
}

// expire makes Apache Kafka forget the producers of topic's partitions:
// producer.id.expiration.ms of a second, until the test ends.
func expire(t *testing.T, b *bed, topic string, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(b.tgt.Client(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alter := func(op kadm.IncrementalOp, v *string) error {
		resp, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: op, Name: "producer.id.expiration.ms", Value: v}})
		if err == nil {
			for _, r := range resp {
				err = errors.Join(err, r.Err)
			}
		}
		return err
	}
	set := kadm.TopicsSet{}
	for part := range partitions {
		set.Add(topic, part)
	}
	producers := func() (int, error) {
		described, err := adm.DescribeProducers(ctx, set)
		n := 0
		described.EachPartition(func(d kadm.DescribedProducersPartition) {
			err = errors.Join(err, d.Err)
			n += len(d.ActiveProducers)
		})
		return n, err
	}
	if n, err := producers(); err != nil || n != int(partitions) {
		t.Fatalf("before: %d producers of %d partitions, %v", n, partitions, err)
	}
	if err := alter(kadm.SetConfig, kmsg.StringPtr("1000")); err != nil {
		t.Fatalf("set producer.id.expiration.ms: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		resp, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "producer.id.expiration.ms"}})
		if err == nil {
			err = resp[0].Err
		}
		if err != nil {
			t.Errorf("reset producer.id.expiration.ms: %v", err)
		}
	})
	testbed.WaitUntil(t, time.Minute, "the producers to expire", func() error {
		n, err := producers()
		if err == nil && n > 0 {
			err = fmt.Errorf("%d producers left", n)
		}
		return err
	})
}

// syncBuffer is a log's output, written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProduceFails: a batch the target refuses for good fails with an
// error naming the topic, the partition and Kafka's error, and so does
// every later batch of its partition, queued before or after; the batches
// before it are written, and another partition completes.
func TestProduceFails(t *testing.T) {
	b := newBed(t, 1)
	srcTopic, tgtTopic := topicName(t, "src"), topicName(t, "tgt")
	createTopic(t, b.src, srcTopic, 2, nil)
	createTopic(t, b.tgt, tgtTopic, 2, map[string]*string{"max.message.bytes": kmsg.StringPtr("3000")})
	cl := b.src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, size := range []int{100, 6000, 100, 100} { // partition 0: the second is too large
		for part := range int32(2) {
			if part == 1 {
				size = 100
			}
			recs := []*kgo.Record{{Topic: srcTopic, Partition: part, Value: fmt.Appendf(nil, "%d %s", i, strings.Repeat("v", size))}}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	src := map[int32][]Batch{0: fetchAll(t, b.src, srcTopic, 0), 1: fetchAll(t, b.src, srcTopic, 1)}
	big := -1
	for i, x := range src[0] {
		if len(x) > 3000 {
			big = i
			break
		}
	}
	if big < 1 {
		t.Fatalf("the large batch is batch %d of %d", big, len(src[0]))
	}

	p := NewProducer(b.tgt.Client(t), ProducerOptions{Log: testbed.Logger(t)})
	defer p.Close()
	a := newAnswers()
	copyAll(t, p, tgtTopic, src, a, nil)
	// And one more after the partition stopped.
	if err := p.Produce(ctx, tgtTopic, 0, src[0][0], a.done(0, len(src[0]))); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := a.ordered(t, 0, len(src[0])+1)
	for i, g := range got {
		switch {
		case i < big && g.err != nil:
			t.Errorf("batch %d before the large one: %v", i, g.err)
		case i >= big && (!errors.Is(g.err, kerr.MessageTooLarge) || !strings.Contains(g.err.Error(), tgtTopic+"[0]")):
			t.Errorf("batch %d: %v; want MESSAGE_TOO_LARGE naming %s[0]", i, g.err, tgtTopic)
		}
	}
	if tb := fetchAll(t, b.tgt, tgtTopic, 0); len(tb) != big {
		t.Errorf("partition 0 holds %d batches, want the %d before the large one", len(tb), big)
	}
	for i, g := range a.ordered(t, 1, len(src[1])) {
		if g.err != nil {
			t.Errorf("partition 1 batch %d: %v", i, g.err)
		}
	}
	if tb := fetchAll(t, b.tgt, tgtTopic, 1); len(tb) != len(src[1]) {
		t.Errorf("partition 1 holds %d batches, want %d", len(tb), len(src[1]))
	}
}

// TestUnknownTopic: a partition of a topic the target does not have fails
// once Timeout has passed, with UNKNOWN_TOPIC_OR_PARTITION naming it, while
// a partition of a topic it has completes.
func TestUnknownTopic(t *testing.T) {
	b := newBed(t, 1)
	topic, missing := topicName(t, "tgt"), topicName(t, "missing")
	createTopic(t, b.tgt, topic, 1, nil)
	p := NewProducer(b.tgt.Client(t), ProducerOptions{Timeout: time.Second, Log: testbed.Logger(t)})
	defer p.Close()
	x := encoded(t, 1, 100)[0]
	a := newAnswers()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	for part, topic := range []string{missing, topic} {
		if err := p.Produce(ctx, topic, 0, slices.Clone(x), a.done(int32(part), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if g := a.ordered(t, 0, 1)[0]; !errors.Is(g.err, kerr.UnknownTopicOrPartition) || !strings.Contains(g.err.Error(), missing+"[0]") || time.Since(began) < time.Second {
		t.Errorf("after %s: %v; want UNKNOWN_TOPIC_OR_PARTITION naming %s[0] after a second", time.Since(began), g.err, missing)
	}
	if g := a.ordered(t, 1, 1)[0]; g.err != nil || g.base != 0 {
		t.Errorf("the topic that exists: offset %d, %v", g.base, g.err)
	}
}

// encoded returns n batches of records, each of about size bytes.
func encoded(t *testing.T, n, size int) []Batch {
	t.Helper()
	e, err := NewEncoder(None, size)
	if err != nil {
		t.Fatal(err)
	}
	var out []Batch
	for i := range n {
		raw, _ := e.Encode(nil, []*kgo.Record{{Value: fmt.Appendf(nil, "%d %s", i, strings.Repeat("x", size)), Timestamp: time.Now()}})
		out = append(out, raw)
	}
	return out
}

// hold makes the target answer no produce request until the returned
// function is called: kfake sleeps them, Apache Kafka's node is frozen.
func hold(t *testing.T, b *bed) (release func()) {
	t.Helper()
	var once sync.Once
	if b.tgtFake != nil {
		released := make(chan struct{})
		release = func() { once.Do(func() { close(released) }) }
		b.tgtFake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
			b.tgtFake.KeepControl()
			b.tgtFake.SleepControl(func() { <-released })
			return nil, nil, false
		})
	} else {
		node := b.kafka.Nodes()[0]
		node.Freeze()
		release = func() { once.Do(node.Thaw) }
	}
	t.Cleanup(release)
	return release
}

// TestMaxBuffered: Produce blocks while MaxBuffered bytes are held by
// batches the target does not answer, returns ctx's error when ctx ends
// without calling done, and goes on once the target answers.
func TestMaxBuffered(t *testing.T) {
	b := newBed(t, 1)
	topic := topicName(t, "tgt")
	createTopic(t, b.tgt, topic, 1, nil)
	bs := encoded(t, 6, 1000)
	p := NewProducer(b.tgt.Client(t), ProducerOptions{MaxBuffered: int64(3 * len(bs[0])), Log: testbed.Logger(t)})
	defer p.Close()
	a := newAnswers()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Produce(ctx, topic, 0, bs[0], a.done(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil { // the producer id and leader are known
		t.Fatal(err)
	}

	release := hold(t, b)
	for i := 1; i <= 3; i++ {
		began := time.Now()
		if err := p.Produce(ctx, topic, 0, bs[i], a.done(0, i)); err != nil || time.Since(began) > 5*time.Second {
			t.Fatalf("batch %d within the bound: %v after %s", i, err, time.Since(began))
		}
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	began := time.Now()
	err := p.Produce(short, topic, 0, bs[4], func(int64, error) { t.Error("done called for a batch Produce did not take") })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) < 500*time.Millisecond {
		t.Fatalf("the batch beyond the bound: %v after %s; want the context's deadline after 500ms", err, time.Since(began))
	}
	if n := a.count(); n != 1 {
		t.Fatalf("%d batches answered while the target answers nothing, want 1", n)
	}

	release()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, topic, 0, bs[5], a.done(0, 4)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, g := range a.ordered(t, 0, 5) {
		if g.err != nil || g.base != int64(i) {
			t.Errorf("batch %d: offset %d, %v", i, g.base, g.err)
		}
	}
}

// TestMaxQueued: a broker takes at most MaxInFlight requests at once, and
// Produce blocks while MaxQueued bytes wait for one, however much room
// MaxBuffered leaves; both go on once the target answers.
func TestMaxQueued(t *testing.T) {
	b := newBed(t, 1)
	topic := topicName(t, "tgt")
	createTopic(t, b.tgt, topic, 2, nil)
	bs := encoded(t, 5, 1000)
	p := NewProducer(b.tgt.Client(t), ProducerOptions{MaxQueued: int64(len(bs[0])), MaxInFlight: 1, Log: testbed.Logger(t)})
	defer p.Close()
	a := newAnswers()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for part := range int32(2) { // the producer id and leaders are known
		if err := p.Produce(ctx, topic, part, bs[part], a.done(part, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	release := hold(t, b)
	if err := p.Produce(ctx, topic, 0, bs[2], a.done(0, 1)); err != nil {
		t.Fatal(err)
	}
	testbed.WaitFor(t, 10*time.Second, "a request in flight", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.requests == 1 && p.unsent == 0
	})
	// Partition 1 has nothing in flight, but its broker has a request:
	// its batch waits, and fills the queue.
	if err := p.Produce(ctx, topic, 1, bs[3], a.done(1, 1)); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	began := time.Now()
	err := p.Produce(short, topic, 1, bs[4], func(int64, error) { t.Error("done called for a batch Produce did not take") })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) < 500*time.Millisecond {
		t.Fatalf("the batch beyond the queue: %v after %s; want the context's deadline after 500ms", err, time.Since(began))
	}
	p.mu.Lock()
	requests, unsent := p.requests, p.unsent
	p.mu.Unlock()
	if requests != 1 || unsent != int64(len(bs[3])) {
		t.Fatalf("%d requests in flight and %d bytes unsent; want 1 and %d", requests, unsent, len(bs[3]))
	}

	release()
	if err := p.Produce(ctx, topic, 1, bs[4], a.done(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for part, n := range map[int32]int{0: 2, 1: 3} {
		for i, g := range a.ordered(t, part, n) {
			if g.err != nil || i > 0 && g.base <= 0 {
				t.Errorf("partition %d batch %d: offset %d, %v", part, i, g.base, g.err)
			}
		}
	}
}

// TestClose: Close answers every batch not answered with ErrClosed, once
// and in order, while the target holds them; later Produce calls fail with
// ErrClosed without calling done; Close again does nothing; and no
// goroutine of the Producer is left.
func TestClose(t *testing.T) {
	b := newBed(t, 1)
	topic := topicName(t, "tgt")
	createTopic(t, b.tgt, topic, 2, nil)
	bs := encoded(t, 4, 500)
	p := NewProducer(b.tgt.Client(t), ProducerOptions{MaxBuffered: int64(6 * len(bs[0])), Log: testbed.Logger(t)})
	a := newAnswers()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for part := range int32(2) {
		if err := p.Produce(ctx, topic, part, slices.Clone(bs[0]), a.done(part, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hold(t, b)
	for i := 1; i < len(bs); i++ {
		for part := range int32(2) {
			if err := p.Produce(ctx, topic, part, slices.Clone(bs[i]), a.done(part, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One more waits for room.
	blocked := make(chan error, 1)
	go func() {
		blocked <- p.Produce(ctx, topic, 0, slices.Clone(bs[0]), func(int64, error) { t.Error("done called for a batch Produce did not take") })
	}()
	testbed.WaitFor(t, 10*time.Second, "a batch in flight and one waiting for room", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.requests > 0 && strings.Contains(producerGoroutines(), "(*Producer).Produce")
	})
	began := time.Now()
	p.Close()
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Close took %s", d)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("the Produce waiting for room: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the Produce waiting for room still waits after Close")
	}
	for part := range int32(2) {
		for i, g := range a.ordered(t, part, len(bs)) {
			if (i == 0) != (g.err == nil) || (i > 0 && !errors.Is(g.err, ErrClosed)) {
				t.Errorf("partition %d batch %d: %v", part, i, g.err)
			}
		}
	}
	if err := p.Produce(ctx, topic, 0, bs[0], func(int64, error) { t.Error("done called after Close") }); !errors.Is(err, ErrClosed) {
		t.Errorf("Produce after Close: %v", err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	p.Close()
	if g := producerGoroutines(); g != "" {
		t.Fatalf("goroutines left after Close:\n%s", g)
	}
}

func TestNextSequence(t *testing.T) {
	for _, tt := range []struct{ seq, n, want int32 }{
		{0, 1, 1},
		{10, 5, 15},
		{math.MaxInt32 - 5, 5, math.MaxInt32},
		{math.MaxInt32 - 4, 5, 0},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32 - 2, 5, 2},
	} {
		if got := nextSequence(tt.seq, tt.n); got != tt.want {
			t.Errorf("nextSequence(%d, %d) = %d, want %d", tt.seq, tt.n, got, tt.want)
		}
	}
}

// TestProduceRefuses: Produce takes only whole batches of magic 2.
func TestProduceRefuses(t *testing.T) {
	x := encoded(t, 1, 10)[0]
	old := bytes.Clone(x)
	old[offMagic] = 1
	p := NewProducer(nil, ProducerOptions{})
	defer p.Close()
	for name, b := range map[string]Batch{"short": x[:HeaderSize-1], "cut": x[:len(x)-1], "magic 1": old} {
		if err := p.Produce(context.Background(), "t", 0, b, func(int64, error) { t.Errorf("%s: done called", name) }); err == nil {
			t.Errorf("%s: taken", name)
		}
	}
}

// BenchmarkProducer writes batches of about 16 KiB to a kfake target's
// partitions: each iteration queues a window of them and waits for every
// answer, so that the time counts the round trips, not only the queueing.
func BenchmarkProducer(b *testing.B) {
	c := testbed.NewCluster(b)
	const partitions, window = 4, 64
	ctx := context.Background()
	if _, err := kadm.NewClient(c.Client(b)).CreateTopic(ctx, partitions, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	e, _ := NewEncoder(Lz4, 16<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	var recs []*kgo.Record
	for i := range 100 {
		v := make([]byte, 150)
		for j := range v {
			v[j] = byte('a' + rng.IntN(26))
		}
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "key %d", i), Value: v, Timestamp: time.Now()})
	}
	raw, _ := e.Encode(nil, recs)
	bs, err := Split(raw)
	if err != nil {
		b.Fatal(err)
	}
	x := bs[0]
	p := NewProducer(c.Client(b), ProducerOptions{})
	defer p.Close()
	var failed atomic.Int64
	done := func(_ int64, err error) {
		if err != nil {
			failed.Add(1)
		}
	}
	b.SetBytes(window * int64(len(x)))
	began := time.Now()
	for b.Loop() {
		for i := range window {
			if err := p.Produce(ctx, "bench", int32(i%partitions), slices.Clone(x), done); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*window)*float64(x.Records())/time.Since(began).Seconds(), "records/s")
	if failed.Load() > 0 {
		b.Fatalf("%d batches failed", failed.Load())
	}
}

// TestNewIDInDoubt: when a new producer id replaces one whose state the
// target lost, a partition whose first batch not answered may be written
// (its answer was an error) while a later one is known written cannot be
// rewritten in order: it fails, the written one keeps its answer; another
// partition starts over at sequence 0, one batch in flight at first.
func TestNewIDInDoubt(t *testing.T) {
	p := NewProducer(nil, ProducerOptions{})
	defer p.Close()
	a := newAnswers()
	x := encoded(t, 1, 10)[0]
	batch := func(part *partition, i int, seq int32, s state, base int64) *pending {
		pb := &pending{part: part, w: bytes.Clone(x), seq: seq, stamped: Stamp{ID: 1, Sequence: seq}, state: s, base: base, done: a.done(part.partition, i)}
		part.batches = append(part.batches, pb)
		part.queued++
		return pb
	}
	p.mu.Lock()
	ok, doubt := p.partition(tp{"t", 0}), p.partition(tp{"t", 1})
	ok.leader, doubt.leader = 0, 0
	ok.probe, doubt.probe = false, false
	first := batch(ok, 0, 40, queued, 0)
	batch(doubt, 0, 10, queued, 0)   // in doubt: answered REQUEST_TIMED_OUT, say
	batch(doubt, 1, 11, answered, 7) // written after it
	p.id, p.hasID, p.resetting = Stamp{ID: 1}, true, true
	p.setID(Stamp{ID: 2}, nil, time.Now())
	if first.seq != 0 || !ok.probe || ok.err != nil || p.resetting {
		t.Errorf("the partition not in doubt: sequence %d, probe %v, err %v; resetting %v", first.seq, ok.probe, ok.err, p.resetting)
	}
	p.mu.Unlock()

	testbed.WaitFor(t, 10*time.Second, "the answers", func() bool { return len(a.of(1)) == 2 })
	got := a.ordered(t, 1, 2)
	if got[0].err == nil || !strings.Contains(got[0].err.Error(), "t[1]") || !strings.Contains(got[0].err.Error(), "order") || got[1].err != nil || got[1].base != 7 {
		t.Errorf("the partition in doubt: %+v", got)
	}
}

// TestSettle: what a partition's answer does to its batch, its partition
// and the Producer.
func TestSettle(t *testing.T) {
	const (
		retried = "retried"
		failed  = "failed"
		written = "written"
		reset   = "new producer id"
	)
	for _, tt := range []struct {
		name  string
		err   error
		first bool // the batch is the first not answered
		later bool // a later batch is written
		want  string
		says  string // in the error, when failed
	}{
		{"written", nil, true, false, written, ""},
		{"not leader", kerr.NotLeaderForPartition, true, false, retried, ""},
		{"not enough replicas", kerr.NotEnoughReplicas, true, false, retried, ""},
		{"request timed out", kerr.RequestTimedOut, false, false, retried, ""},
		{"unknown topic, within Timeout", kerr.UnknownTopicOrPartition, true, false, retried, ""},
		{"state lost", kerr.OutOfOrderSequenceNumber, true, false, reset, ""},
		{"producer unknown", kerr.UnknownProducerID, true, false, reset, ""},
		{"after a failed batch", kerr.OutOfOrderSequenceNumber, false, false, retried, ""},
		{"state lost after a later batch", kerr.OutOfOrderSequenceNumber, true, true, failed, "order"},
		{"duplicate", kerr.DuplicateSequenceNumber, true, false, failed, "did not say at which offset"},
		{"too large", kerr.MessageTooLarge, true, false, failed, "MESSAGE_TOO_LARGE"},
		{"corrupt", kerr.CorruptMessage, true, false, failed, "CORRUPT_MESSAGE"},
		{"fenced", kerr.InvalidProducerEpoch, true, false, failed, "INVALID_PRODUCER_EPOCH"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProducer(nil, ProducerOptions{})
			defer p.Close()
			p.mu.Lock()
			defer p.mu.Unlock()
			part := p.partition(tp{"t", 3})
			var pb *pending
			for i := range 3 {
				x := &pending{part: part, seq: int32(i), state: inFlight, done: func(int64, error) {}}
				part.batches = append(part.batches, x)
				if i == 1 {
					pb = x
				}
			}
			if tt.first {
				part.batches[0].state, part.batches[0].base = answered, 0
			}
			if tt.later {
				part.batches[2].state = answered
			}
			p.settle(part, pb, 42, tt.err, time.Now())
			var got string
			switch {
			case part.err != nil:
				got = failed
			case p.resetting:
				got = reset
			case part.blocked && pb.state == queued:
				got = retried
			case pb.state == answered && pb.err == nil && pb.base == 42:
				got = written
			}
			if got != tt.want || (tt.says != "" && !strings.Contains(part.err.Error(), tt.says)) || (got == failed && !strings.Contains(part.err.Error(), "t[3]")) {
				t.Errorf("%s, err %v; want %s saying %q", got, part.err, tt.want, tt.says)
			}
		})
	}
}

// TestAbort: Abort waits for the requests in flight, answers what they
// wrote as written and every batch not sent with ErrAborted, in order; the
// Producer then goes on with the partition.
func TestAbort(t *testing.T) {
	b := newBed(t, 1)
	topic := topicName(t, "tgt")
	createTopic(t, b.tgt, topic, 1, nil)
	bs := encoded(t, 9, 200)
	p := NewProducer(b.tgt.Client(t), ProducerOptions{MaxInFlight: 5, Log: testbed.Logger(t)})
	defer p.Close()
	a := newAnswers()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Produce(ctx, topic, 0, bs[0], a.done(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	release := hold(t, b)
	for i := 1; i < 8; i++ { // more than MaxInFlight: some stay queued
		if err := p.Produce(ctx, topic, 0, bs[i], a.done(0, i)); err != nil {
			t.Fatal(err)
		}
	}
	testbed.WaitFor(t, 10*time.Second, "batches in flight", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.requests > 0
	})
	aborted := make(chan error, 1)
	go func() { aborted <- p.Abort(ctx) }()
	release()
	if err := <-aborted; err != nil {
		t.Fatal(err)
	}
	written := 0
	for i, g := range a.ordered(t, 0, 8) {
		switch {
		case g.err == nil && written == i:
			if g.base != int64(i) {
				t.Errorf("batch %d written at %d", i, g.base)
			}
			written++
		case !errors.Is(g.err, ErrAborted) || i < written:
			t.Fatalf("batch %d: %v, after %d written", i, g.err, written)
		}
	}
	if written == 8 || written < 2 {
		t.Fatalf("%d of 8 batches written: want those in flight only", written)
	}
	if err := p.Produce(ctx, topic, 0, bs[8], a.done(0, 8)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if g := a.of(0)[8]; g.err != nil || g.base != int64(written) {
		t.Fatalf("the batch after Abort: offset %d, %v; want %d", g.base, g.err, written)
	}
}

// TestDeliveryTimeout: a batch the target does not write within
// DeliveryTimeout fails its partition, with an error that names the
// setting, instead of being retried.
func TestDeliveryTimeout(t *testing.T) {
	b := newBed(t, 1)
	topic := topicName(t, "tgt")
	createTopic(t, b.tgt, topic, 1, nil)
	bs := encoded(t, 2, 100)
	p := NewProducer(b.tgt.Client(t, kgo.RequestTimeoutOverhead(time.Second)), ProducerOptions{Timeout: 500 * time.Millisecond,
		DeliveryTimeout: time.Second, Log: testbed.Logger(t)})
	defer p.Close()
	a := newAnswers()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Produce(ctx, topic, 0, bs[0], a.done(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hold(t, b)
	if err := p.Produce(ctx, topic, 0, bs[1], a.done(0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if g := a.ordered(t, 0, 2)[1]; g.err == nil || !strings.Contains(g.err.Error(), "delivery.timeout.ms") {
		t.Fatalf("a batch held by the target: %v, want a delivery timeout", g.err)
	}
}
