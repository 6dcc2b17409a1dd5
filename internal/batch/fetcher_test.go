package batch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kmirror/kmirror/internal/testbed"
)

var codecs = []struct {
	name  string
	codec kgo.CompressionCodec
}{{"none", kgo.NoCompression()}, {"gzip", kgo.GzipCompression()}, {"zstd", kgo.ZstdCompression()}}

// produceRounds writes rounds batches to each partition of topic, the
// codecs taking turns, n records of size bytes per batch, and returns the
// records.
func produceRounds(t testing.TB, bed *fetchBed, topic string, partitions int32, rounds, n, size int) []*kgo.Record {
	t.Helper()
	var all []*kgo.Record
	for r := range rounds {
		var recs []*kgo.Record
		for p := range partitions {
			recs = append(recs, records(topic, p, n+r%3, size)...)
		}
		all = append(all, bed.produce(t, codecs[r%len(codecs)].codec, recs)...)
	}
	return all
}

// TestFetchEverythingOnce: batches of several partitions and codecs come
// each once, in order, covering [0, end) exactly; their records are those
// produced. Small fetch sizes make many fetches, partial batches at their
// ends on Apache Kafka.
func TestFetchEverythingOnce(t *testing.T) {
	bed := newFetchBed(t)
	const partitions = 4
	topic := bed.topic(t, "once", partitions)
	produced := produceRounds(t, bed, topic, partitions, 9, 20, 200)

	for _, tt := range []struct {
		name string
		o    FetchOptions
		opts []kgo.Opt
	}{
		{"small fetches", FetchOptions{MaxBytes: 8 << 10, PartitionMaxBytes: 3 << 10}, nil},
		{"defaults", FetchOptions{}, nil},
		// Fetch v12, the last to name topics rather than give their IDs.
		{"topics by name", FetchOptions{PartitionMaxBytes: 3 << 10}, []kgo.Opt{kgo.MaxVersions(kversion.V3_0_0())}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := bed.fetcher(t, tt.o, tt.opts...)
			f.Add(from(topic, partitions, 0))
			s := newStream(topic, map[int32]int64{0: 0, 1: 0, 2: 0, 3: 0})
			s.until(t, f, ends(produced), time.Minute)
			s.same(t, produced)
			t.Logf("%d polls", len(s.polls))
		})
	}
}

// TestFetchMidBatch: a partition added at an offset inside a batch comes
// from that batch on, and Offset tells where the caller starts.
func TestFetchMidBatch(t *testing.T) {
	bed := newFetchBed(t)
	topic := bed.topic(t, "mid", 1)
	var produced []*kgo.Record
	for range 3 {
		produced = append(produced, bed.produce(t, kgo.NoCompression(), records(topic, 0, 10, 50))...)
	}
	for _, tt := range []struct {
		name       string
		at, base   int64
		firstBatch int64 // the first batch's base offset
	}{
		{"at a batch's start", 10, 10, 10},
		{"inside a batch", 15, 15, 10},
		{"at the last record", 29, 29, 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := bed.fetcher(t, FetchOptions{})
			f.Add(from(topic, 1, tt.at))
			s := newStream(topic, map[int32]int64{0: tt.at})
			s.until(t, f, map[int32]int64{0: 30}, time.Minute)
			first := s.polls[0][0]
			bs, _ := Split(first.Records)
			if first.Offset != tt.base || bs[0].BaseOffset() != tt.firstBatch {
				t.Fatalf("first fetch at %d beginning with the batch at %d, want %d and %d", first.Offset, bs[0].BaseOffset(), tt.base, tt.firstBatch)
			}
			// Decoded from Offset on, the records begin where asked.
			if got := s.recs[0][0].Offset; got != tt.at {
				t.Fatalf("first record decoded at %d, want %d", got, tt.at)
			}
		})
	}
}

// TestFetchRemoveAndSetOffset: a partition removed with a fetch of its
// own waiting for Poll is never returned again while the others go on; a
// partition set back, with a newer fetch waiting, comes again from there,
// and the fetch made before is not returned.
func TestFetchRemoveAndSetOffset(t *testing.T) {
	bed := newFetchBed(t)
	topic := bed.topic(t, "remove", 2)
	// One partition's leader for both, so that one fetch holds both.
	if bed.fake != nil {
		if err := bed.fake.MoveTopicPartition(topic, 1, bed.fake.LeaderFor(topic, 0)); err != nil {
			t.Fatal(err)
		}
	}
	first := append(bed.produce(t, kgo.NoCompression(), records(topic, 0, 10, 50)), bed.produce(t, kgo.NoCompression(), records(topic, 1, 10, 50))...)
	f := bed.fetcher(t, FetchOptions{})
	f.Add(from(topic, 2, 0))
	testbed.WaitFor(t, time.Minute, "a fetch of partition 0 held for Poll", func() bool { return holds(f, topic, 0) })

	f.Remove(map[string][]int32{topic: {0}})
	more := bed.produce(t, kgo.NoCompression(), append(records(topic, 0, 5, 50), records(topic, 1, 5, 50)...))
	s := newStream(topic, map[int32]int64{1: 0})
	s.until(t, f, map[int32]int64{1: ends(more)[1]}, time.Minute)
	for _, fs := range s.polls {
		for _, x := range fs {
			if x.Partition == 0 {
				t.Fatalf("partition 0 at %d returned after Remove", x.Offset)
			}
		}
	}

	// Set partition 1 back while a fetch past its end waits for Poll.
	newer := bed.produce(t, kgo.NoCompression(), records(topic, 1, 5, 50))
	f.release() // done with the last Poll's, as the next Poll would say
	testbed.WaitFor(t, time.Minute, "a fetch of partition 1 held for Poll", func() bool { return holds(f, topic, 1) })
	f.SetOffset(topic, 1, 5)
	s = newStream(topic, map[int32]int64{1: 5})
	s.until(t, f, ends(newer), time.Minute) // fails on a fetch at 15, made before
	var want []*kgo.Record
	for _, r := range append(append(first, more...), newer...) {
		if r.Partition == 1 && r.Offset >= 5 {
			want = append(want, r)
		}
	}
	s.recs[1] = dropBefore(s.recs[1], 5)
	s.same(t, want)
}

func dropBefore(recs []*kgo.Record, offset int64) []*kgo.Record {
	for len(recs) > 0 && recs[0].Offset < offset {
		recs = recs[1:]
	}
	return recs
}

// TestFetchOutOfRange: a partition fetched beyond its end or below its log
// start returns OffsetOutOfRange once and waits, until SetOffset resumes
// it.
func TestFetchOutOfRange(t *testing.T) {
	bed := newFetchBed(t)
	for _, tt := range []struct {
		name     string
		deleteTo int64 // DeleteRecords up to, or 0
		at       int64 // the offset added
		resume   int64
	}{
		{"beyond the end", 0, 25, 3},
		{"below the log start", 12, 4, 12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topic := bed.topic(t, "oor", 1)
			produced := append(bed.produce(t, kgo.NoCompression(), records(topic, 0, 10, 50)), bed.produce(t, kgo.GzipCompression(), records(topic, 0, 10, 50))...)
			if tt.deleteTo > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				var o kadm.Offsets
				o.AddOffset(topic, 0, tt.deleteTo, -1)
				resp, err := bed.admin(t).DeleteRecords(ctx, o)
				if err == nil {
					err = resp.Error()
				}
				if err != nil {
					t.Fatalf("delete records: %v", err)
				}
			}
			f := bed.fetcher(t, FetchOptions{})
			f.Add(from(topic, 1, tt.at))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			fs := f.Poll(ctx)
			if len(fs) != 1 || !errors.Is(fs[0].Err, kerr.OffsetOutOfRange) {
				t.Fatalf("polled %+v, want one OffsetOutOfRange", fs)
			}
			got := fs[0]
			t.Logf("out of range: %v; log start %d, high watermark %d", got.Err, got.LogStart, got.HighWatermark)
			if got.Offset != tt.at || got.Records != nil {
				t.Fatalf("error at %d with %d bytes, want at %d with none", got.Offset, len(got.Records), tt.at)
			}
			// Known or not, what is reported is right (Kafka reports
			// -1, kfake the partition's).
			if got.LogStart != -1 && got.LogStart != tt.deleteTo || got.HighWatermark != -1 && got.HighWatermark != 20 {
				t.Fatalf("log start %d, high watermark %d; want %d and 20, or -1", got.LogStart, got.HighWatermark, tt.deleteTo)
			}
			// The partition waits: nothing comes until SetOffset.
			quiet, cancelQuiet := context.WithTimeout(ctx, 500*time.Millisecond)
			if fs := f.Poll(quiet); fs != nil {
				t.Fatalf("polled %+v while the partition waits for SetOffset", fs)
			}
			cancelQuiet()

			f.SetOffset(topic, 0, tt.resume)
			s := newStream(topic, map[int32]int64{0: tt.resume})
			s.until(t, f, ends(produced), time.Minute)
			s.recs[0] = dropBefore(s.recs[0], tt.resume)
			s.same(t, produced[tt.resume:])
		})
	}
}

// TestFetchThroughFaults: fetches that fail with NOT_LEADER_OR_FOLLOWER,
// connections dropped, leaders that move: everything comes still, once, in
// order. On kfake the faults are injected; on Apache Kafka every partition,
// of one replica, moves to another broker, which the old one then tells.
func TestFetchThroughFaults(t *testing.T) {
	bed := newFetchBed(t)
	const partitions = 6
	// One replica: a broker that was the leader and stays a follower
	// serves the fetches of consumers (Fetch v11+), and tells nothing.
	topic := bed.topicOf(t, "faults", partitions, 1)
	produced := produceRounds(t, bed, topic, partitions, 12, 10, 300)

	var notLeader, dropped atomic.Int32
	if bed.fake != nil {
		var n atomic.Int32
		bed.fake.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
			bed.fake.KeepControl()
			switch n.Add(1) % 5 {
			case 1:
				notLeader.Add(1)
				return testbed.RefuseFetch(kreq.(*kmsg.FetchRequest), kerr.NotLeaderForPartition.Code), nil, true
			case 3:
				dropped.Add(1)
				return nil, errors.New("connection dropped by the test"), true
			}
			return nil, nil, false
		})
	}

	log, retried := countingLog(t, "fetch retried")
	f := bed.fetcher(t, FetchOptions{MaxBytes: 6 << 10, PartitionMaxBytes: 4 << 10, Log: log})
	f.Add(from(topic, partitions, 0))
	s := newStream(topic, map[int32]int64{0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0})
	want := ends(produced)
	half := map[int32]int64{}
	for p, end := range want {
		half[p] = end / 2
	}
	s.until(t, f, half, time.Minute)
	before := retried.Load()
	moveLeaders(t, bed, topic, partitions)
	s.until(t, f, want, 2*time.Minute)
	s.same(t, produced)
	if retried.Load() == before {
		t.Fatal("no fetch retried after the leaders moved")
	}
	if bed.fake != nil && (notLeader.Load() == 0 || dropped.Load() == 0) {
		t.Fatalf("faults injected: %d NOT_LEADER_OR_FOLLOWER, %d dropped connections; want some of each", notLeader.Load(), dropped.Load())
	}
	t.Logf("%d polls, %d NOT_LEADER_OR_FOLLOWER and %d dropped connections injected, %d partition fetches retried (%d after the leaders moved)",
		len(s.polls), notLeader.Load(), dropped.Load(), retried.Load(), retried.Load()-before)
}

// moveLeaders moves the leader of every partition of topic to another
// broker.
func moveLeaders(t testing.TB, bed *fetchBed, topic string, partitions int32) {
	t.Helper()
	if bed.fake != nil {
		for p := range partitions {
			leader := bed.fake.LeaderFor(topic, p)
			if err := bed.fake.MoveTopicPartition(topic, p, (leader+1)%bedNodes); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := bed.admin(t)
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	moved := map[int32]int32{}
	for _, p := range md.Topics[topic].Partitions {
		moved[p.Partition] = p.Leader%bedNodes + 1 // Kafka's nodes are 1 to bedNodes
		req.Assign(topic, p.Partition, []int32{moved[p.Partition]})
	}
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("reassign: %v", err)
	}
	testbed.WaitUntil(t, time.Minute, "leaders moved", func() error {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		for _, p := range md.Topics[topic].Partitions {
			if p.Leader != moved[p.Partition] || len(p.Replicas) != 1 {
				return fmt.Errorf("partition %d: leader %d, replicas %v, want %d alone", p.Partition, p.Leader, p.Replicas, moved[p.Partition])
			}
		}
		return nil
	})
}

// TestFetchReadCommitted: a read_committed fetch lists the aborted
// transaction among its batches, reports the last stable offset, and
// returns nothing of a transaction still open.
func TestFetchReadCommitted(t *testing.T) {
	bed := newFetchBed(t)
	topic := bed.topic(t, "txn", 1)
	cl := bed.Client(t, kgo.TransactionalID(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	txn := func(n int, end *bool) []*kgo.Record {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		recs := records(topic, 0, n, 50)
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce in a transaction: %v", err)
		}
		if end != nil {
			testbed.EndTransaction(t, ctx, cl, *end)
		}
		return recs
	}
	commit, abort := true, false
	committed := txn(5, &commit) // offsets 0-4, its marker 5
	aborted := txn(5, &abort)    // 6-10, its marker 11
	open := txn(3, nil)          // 12-14, open
	t.Cleanup(func() { _ = cl.EndTransaction(context.Background(), kgo.TryAbort) })

	f := bed.fetcher(t, FetchOptions{ReadCommitted: true})
	f.Add(from(topic, 1, 0))
	lso := open[0].Offset
	s := newStream(topic, map[int32]int64{0: 0})
	s.until(t, f, map[int32]int64{0: lso}, time.Minute)
	if s.next[0] != lso {
		t.Fatalf("fetched up to %d, past the last stable offset %d", s.next[0], lso)
	}
	var abortedSeen bool
	var last Fetched
	for _, fs := range s.polls {
		for _, x := range fs {
			last = x
			for _, a := range x.Aborted {
				if a.ProducerID != aborted[0].ProducerID || a.FirstOffset != aborted[0].Offset {
					t.Fatalf("aborted transaction %+v, want producer %d from %d", a, aborted[0].ProducerID, aborted[0].Offset)
				}
				abortedSeen = true
			}
		}
	}
	if !abortedSeen {
		t.Fatalf("no aborted transaction listed; want producer %d from %d", aborted[0].ProducerID, aborted[0].Offset)
	}
	if last.LastStable != lso || last.HighWatermark != open[len(open)-1].Offset+1 {
		t.Fatalf("last stable offset %d, high watermark %d; want %d and %d", last.LastStable, last.HighWatermark, lso, open[len(open)-1].Offset+1)
	}
	// Every batch below the last stable offset came, the aborted one and
	// both markers included; franz-go drops the aborted records.
	got := map[int64]bool{}
	for _, r := range s.recs[0] {
		got[r.Offset] = true
	}
	for _, r := range append(append([]*kgo.Record{}, committed...), aborted...) {
		if !got[r.Offset] {
			t.Fatalf("record at %d not fetched", r.Offset)
		}
	}
}

// TestFetchBackPressure: a broker's loop does not fetch again until Poll
// takes what it fetched and is called again (the caller is done with it),
// though more is there to fetch.
func TestFetchBackPressure(t *testing.T) {
	bed := newFetchBed(t)
	topic := bed.topic(t, "pressure", 1)
	for range 10 {
		bed.produce(t, kgo.NoCompression(), records(topic, 0, 10, 100))
	}
	var fetches atomic.Int32
	f := bed.fetcher(t, FetchOptions{MaxWait: 10 * time.Millisecond, PartitionMaxBytes: 1 << 10}, kgo.WithHooks(countFetches{&fetches}))
	f.Add(from(topic, 1, 0))
	testbed.WaitFor(t, time.Minute, "a fetch held for Poll", func() bool { return holds(f, topic, 0) })
	n := fetches.Load()
	// Unheld, the loop would fetch the nine other batches in far less.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); <-tick.C {
		if got := fetches.Load(); got != n {
			t.Fatalf("%d fetch requests while a fetch waits for Poll, after %d", got, n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fs := f.Poll(ctx)
	if len(fs) != 1 {
		t.Fatalf("polled %d fetches, want the one held", len(fs))
	}
	// The caller works on it: no loop may fetch until the next Poll.
	if mayFetch(f) {
		t.Fatal("a loop may fetch again while the caller works on what Poll returned")
	}
	polled := make(chan []Fetched, 1)
	go func() { polled <- f.Poll(ctx) }()
	if fs := <-polled; len(fs) != 1 || fs[0].Offset != 10 {
		t.Fatalf("polled %+v, want the next batch, at 10", fs)
	}
	if got := fetches.Load(); got <= n {
		t.Fatalf("%d fetch requests, want more than %d once Poll was called again", got, n)
	}
}

// mayFetch says whether one of f's loops would send a fetch request now.
func mayFetch(f *Fetcher) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.brokers {
		if len(f.fetchable(b)) > 0 {
			return true
		}
	}
	return false
}

// TestFetchThrottled: a fetch answered with a throttle time is not
// followed by another to that broker before it passes. kfake does not
// throttle: the answer is made by the test. (franz-go also holds the next
// request on the connection, KIP-219.)
func TestFetchThrottled(t *testing.T) {
	if onKafka() {
		t.Skip("the answer is made by kfake's ControlKey")
	}
	bed := newFetchBed(t)
	topic := bed.topic(t, "throttle", 1)
	produced := bed.produce(t, kgo.NoCompression(), records(topic, 0, 5, 10))
	const throttle = 500 * time.Millisecond
	var answered, next atomic.Int64 // when the throttled answer was made, when the next fetch came
	bed.fake.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if answered.Load() == 0 {
			bed.fake.KeepControl()
			resp := testbed.RefuseFetch(kreq.(*kmsg.FetchRequest), 0)
			resp.ThrottleMillis = int32(throttle.Milliseconds())
			answered.Store(time.Now().UnixNano())
			return resp, nil, true
		}
		next.CompareAndSwap(0, time.Now().UnixNano())
		return nil, nil, false
	})
	f := bed.fetcher(t, FetchOptions{})
	f.Add(from(topic, 1, 0))
	s := newStream(topic, map[int32]int64{0: 0})
	s.until(t, f, ends(produced), time.Minute)
	if d := time.Duration(next.Load() - answered.Load()); d < throttle*9/10 {
		t.Fatalf("next fetch %s after an answer throttled for %s", d, throttle)
	}
}

type countFetches struct{ n *atomic.Int32 }

func (c countFetches) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == int16(kmsg.Fetch) && err == nil {
		c.n.Add(1)
	}
}

// fetchSizes records the size of every fetch request written.
type fetchSizes struct {
	mu    *sync.Mutex
	sizes *[]int
}

func (c fetchSizes) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, err error) {
	if key == int16(kmsg.Fetch) && err == nil {
		c.mu.Lock()
		*c.sizes = append(*c.sizes, n)
		c.mu.Unlock()
	}
}

// TestFetchSession: after the first request, which names every partition,
// a fetch of partitions where nothing happens names none of them (the
// broker's fetch session holds them); records written later still come,
// each once. On kfake, a broker that forgot the session is answered by a
// request that names every partition again, and nothing is lost.
func TestFetchSession(t *testing.T) {
	bed := newFetchBed(t)
	const partitions = 64
	topic := bed.topic(t, "session", partitions)
	produced := produceRounds(t, bed, topic, partitions, 2, 5, 100)

	var mu sync.Mutex
	var sizes []int
	written := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
	var forgot atomic.Int32
	if bed.fake != nil {
		bed.fake.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
			bed.fake.KeepControl()
			req := kreq.(*kmsg.FetchRequest)
			if req.SessionID != 0 && forgot.CompareAndSwap(1, 2) {
				resp := req.ResponseKind().(*kmsg.FetchResponse)
				resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
				return resp, nil, true
			}
			return nil, nil, false
		})
	}
	f := bed.fetcher(t, FetchOptions{MaxWait: 20 * time.Millisecond}, kgo.WithHooks(fetchSizes{&mu, &sizes}))
	f.Add(from(topic, partitions, 0))
	from := map[int32]int64{}
	for p := range int32(partitions) {
		from[p] = 0
	}
	s := newStream(topic, from)
	s.until(t, f, ends(produced), time.Minute)

	full := slices.Max(written())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// polling waits for cond, taking what the Fetcher fetches meanwhile:
	// its loops fetch again only once Poll was called.
	polling := func(what string, cond func() bool) {
		t.Helper()
		testbed.WaitFor(t, time.Minute, what, func() bool {
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Millisecond)
			defer pcancel()
			for _, fe := range f.Poll(pctx) {
				s.add(t, fe)
			}
			return cond()
		})
	}
	// The first request of each broker after the records came names
	// the partitions whose offsets moved; those after it, none.
	idle := func() []int {
		t.Helper()
		before := len(written())
		polling("twelve more fetches", func() bool { return len(written()) >= before+12 })
		return written()[before+6:]
	}
	// A request that names a broker's share of the 64 partitions is
	// most of a KB; one that names none is a hundred bytes or so.
	for _, n := range idle() {
		if n > full/4 {
			t.Fatalf("an idle fetch request of %d bytes, after a first one of %d: it names partitions the session holds", n, full)
		}
	}

	more := produceRounds(t, bed, topic, partitions, 1, 3, 100)
	s.until(t, f, ends(more), time.Minute)
	if bed.fake != nil {
		before := len(written())
		forgot.Store(1)
		polling("the session forgotten", func() bool { return forgot.Load() == 2 })
		polling("a request that opens a session again", func() bool {
			return slices.ContainsFunc(written()[before:], func(n int) bool { return n > full/2 })
		})
		more = append(more, produceRounds(t, bed, topic, partitions, 1, 2, 100)...)
		s.until(t, f, ends(more), time.Minute)
	}
	s.same(t, slices.Concat(produced, more))
}

// TestFetchClose: Close ends a fetch in flight and every goroutine of the
// Fetcher and wakes a waiting Poll; it can be called again, and Poll after
// it returns nil.
func TestFetchClose(t *testing.T) {
	bed := newFetchBed(t)
	topic := bed.topic(t, "close", 3)
	bed.produce(t, kgo.NoCompression(), append(append(records(topic, 0, 1, 10), records(topic, 1, 1, 10)...), records(topic, 2, 1, 10)...))
	f := NewFetcher(bed.Client(t), FetchOptions{MaxWait: time.Minute, Log: testbed.Logger(t)})
	f.Add(from(topic, 3, 1)) // at the end: long polls in flight
	testbed.WaitFor(t, time.Minute, "the fetch loops", func() bool { return fetcherGoroutines() >= 2 })

	polled := make(chan []Fetched)
	go func() { polled <- f.Poll(context.Background()) }()
	began := time.Now()
	f.Close()
	if d := time.Since(began); d > 10*time.Second {
		t.Fatalf("Close took %s with fetches waiting a minute", d)
	}
	if fs := <-polled; fs != nil {
		t.Fatalf("a Poll waiting through Close returned %v", fs)
	}
	f.Close()
	if fs := f.Poll(context.Background()); fs != nil {
		t.Fatalf("Poll after Close returned %v", fs)
	}
	if n := fetcherGoroutines(); n != 0 {
		t.Fatalf("%d goroutines of the Fetcher after Close", n)
	}
}

// fetcherGoroutines counts the goroutines running a Fetcher's loops.
func fetcherGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("batch.(*Fetcher).lookupLeaders")) || bytes.Contains(g, []byte("batch.(*Fetcher).fetchFrom")) {
			n++
		}
	}
	return n
}

// TestNextOffset: where the next fetch begins, for record batches and the
// older message formats franz-go decodes.
func TestNextOffset(t *testing.T) {
	a := encode(t, 10, 0, nil, 1, "a", "b", "c")
	b := encode(t, 13, 0, []int32{0, 4}, 1, "d", "e") // compacted: ends at 17
	bad := append([]byte{}, b...)
	bad[len(bad)-1] ^= 1
	v1 := append(messageV1(t, 20, "x"), messageV1(t, 21, "y")...)
	for _, tt := range []struct {
		name    string
		records []byte
		offset  int64
		next    int64
		n       int
		err     bool
	}{
		{"nothing", nil, 10, 10, 0, false},
		{"batches", cat(a, b), 10, 18, len(a) + len(b), false},
		{"mid-batch", cat(a, b), 12, 18, len(a) + len(b), false},
		{"partial batch at the end", cat(a, b[:30]), 10, 13, len(a), false},
		{"a partial batch only", b[:HeaderSize+1], 13, 13, 0, false},
		{"a bad batch after a good one", cat(a, bad), 10, 13, len(a), true},
		{"a bad batch first", bad, 13, 13, 0, true},
		{"message v1", v1, 20, 22, len(v1), false},
		{"message v1 partial at the end", cat(v1, messageV1(t, 22, "z")[:20]), 20, 22, len(v1) + 20, false},
		{"message v1 then batches", cat(v1, encode(t, 22, 0, nil, 1, "z")), 21, 23, len(v1) + len(encode(t, 22, 0, nil, 1, "z")), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next, n, err := nextOffset(tt.records, tt.offset)
			if next != tt.next || n != tt.n || (err != nil) != tt.err {
				t.Fatalf("next %d, %d bytes, err %v; want %d, %d bytes, error %v", next, n, err, tt.next, tt.n, tt.err)
			}
		})
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// messageV1 encodes one uncompressed message of magic 1 at offset.
func messageV1(t testing.TB, offset int64, value string) []byte {
	t.Helper()
	m := kmsg.MessageV1{Offset: offset, Magic: 1, Timestamp: 1_700_000_000_000, Value: []byte(value)}
	raw := m.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[12:], crc32.ChecksumIEEE(raw[16:]))
	return raw
}

// TestFetchOlderFormat: a broker that answers with messages of magic 1
// is fetched from the offset after them. kfake stores record batches only,
// so the answer is made by the test.
func TestFetchOlderFormat(t *testing.T) {
	if onKafka() {
		t.Skip("the answer is made by kfake's ControlKey")
	}
	bed := newFetchBed(t)
	topic := bed.topic(t, "v1", 1)
	bed.produce(t, kgo.NoCompression(), records(topic, 0, 5, 10))
	v1 := cat(messageV1(t, 0, "a"), messageV1(t, 1, "b"), messageV1(t, 2, "c"))
	asked := make(chan int64, 16)
	bed.fake.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		bed.fake.KeepControl()
		req := kreq.(*kmsg.FetchRequest)
		offset := req.Topics[0].Partitions[0].FetchOffset
		select {
		case asked <- offset:
		default:
		}
		if offset != 0 {
			return nil, nil, false
		}
		resp := testbed.RefuseFetch(req, 0)
		rp := &resp.Topics[0].Partitions[0]
		rp.RecordBatches, rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = v1, 5, 5, 0
		return resp, nil, true
	})
	f := bed.fetcher(t, FetchOptions{})
	f.Add(from(topic, 1, 0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fs := f.Poll(ctx)
	if len(fs) == 0 || fs[0].Offset != 0 || !bytes.Equal(fs[0].Records, v1) {
		t.Fatalf("polled %+v, want the messages of magic 1 at 0", fs)
	}
	go f.Poll(ctx) // done with them: the fetcher fetches on
	for {
		select {
		case offset := <-asked:
			if offset == 3 {
				return // the next fetch begins after them
			}
			if offset != 0 {
				t.Fatalf("next fetch at %d, want 3", offset)
			}
		case <-ctx.Done():
			t.Fatal("no fetch at 3 after the messages")
		}
	}
}

// BenchmarkFetcher fetches a topic of four partitions from kfake, from the
// start to the end, once per iteration.
func BenchmarkFetcher(b *testing.B) {
	c := testbed.NewCluster(b)
	bed := &fetchBed{Brokers: c.Brokers, fake: c}
	const partitions = 4
	topic := bed.topic(b, "bench", partitions)
	var size int64
	for r := range 16 {
		var recs []*kgo.Record
		for p := range int32(partitions) {
			recs = append(recs, records(topic, p, 100, 1000)...)
		}
		for _, r := range bed.produce(b, codecs[r%len(codecs)].codec, recs) {
			size += int64(len(r.Value))
		}
	}
	want := map[int32]int64{}
	for p := range int32(partitions) {
		want[p] = 16 * 100
	}
	f := NewFetcher(bed.Client(b), FetchOptions{MaxWait: 100 * time.Millisecond})
	defer f.Close()
	ctx := context.Background()
	var wire int64
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		f.Add(from(topic, partitions, 0))
		next := map[int32]int64{}
		wire = 0
		for done := 0; done < partitions; {
			for _, x := range f.Poll(ctx) {
				bs, err := Split(x.Records)
				if err != nil || x.Err != nil {
					b.Fatalf("%v %v", err, x.Err)
				}
				for _, bt := range bs {
					wire += int64(len(bt))
				}
				if n := bs[len(bs)-1].NextOffset(); n >= want[x.Partition] && next[x.Partition] < want[x.Partition] {
					done++
				}
				next[x.Partition] = bs[len(bs)-1].NextOffset()
			}
		}
	}
	b.ReportMetric(float64(wire), "wire-bytes/op")
}
