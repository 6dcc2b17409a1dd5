package checkpoint

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// bed is a running flow and its syncer between two kfake clusters.
type bed struct {
	src, tgt       *testbed.Cluster
	srcAdm, tgtAdm *kadm.Client
	flow           *mirror.Flow
	syncer         *Syncer
	stop           func()
}

// bedOptions change a bed: the flow reads the source read_committed, and
// with manualRounds the syncer does not run on its own: the test calls
// Round.
type bedOptions struct {
	readCommitted, manualRounds bool
	// tgtOpts are added to the syncer's target client.
	tgtOpts []kgo.Opt
}

func startBed(t testing.TB, src, tgt *testbed.Cluster, mirrorLines string, opts bedOptions) *bed {
	t.Helper()
	cfg := testbed.Config(t, src, tgt, mirrorLines)
	f := cfg.Flows[0]
	f.Consumer.ReadCommitted = opts.readCommitted
	log := testbed.Logger(t)
	b := &bed{src: src, tgt: tgt, srcAdm: kadm.NewClient(src.Client(t)), tgtAdm: kadm.NewClient(tgt.Client(t))}
	b.flow = mirror.NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), nil, log, nil)
	b.syncer = NewSyncer(f, src.Client(t), tgt.Client(t, opts.tgtOpts...), b.flow.View(mirror.Own), log, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := b.flow.Run(ctx); err != nil {
			t.Errorf("flow: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if opts.manualRounds {
			// Run would create the checkpoints topic.
			if err := cluster.EnsureInternalTopic(ctx, b.tgtAdm, f.InternalTopic(config.InternalCheckpoints)); err != nil {
				t.Errorf("checkpoints topic: %v", err)
			}
			return
		}
		if err := b.syncer.Run(ctx); err != nil {
			t.Errorf("syncer: %v", err)
		}
	}()
	b.stop = sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(b.stop)
	return b
}

const syncAll = `    topicsPattern: "app-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`

// synced waits until every partition of the groups is committed on the
// target at the flow's translation of its source commit.
func (b *bed) synced(t testing.TB, groups map[string]map[int32]int64, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	testbed.WaitUntil(t, within, "groups in sync", func() error {
		for g, cuts := range groups {
			resp, err := b.tgtAdm.FetchOffsets(ctx, g)
			if err != nil {
				return err
			}
			srcResp, err := b.srcAdm.FetchOffsets(ctx, g)
			if err != nil {
				return err
			}
			seen := 0
			for _, o := range srcResp.Sorted() {
				if _, cut := cuts[o.Partition]; !cut {
					continue
				}
				seen++
				tr, ok, _ := b.flow.View(mirror.Own).Translate(ctx, progress.Partition{Topic: o.Topic, Partition: o.Partition}, o.At)
				if got, found := resp.Lookup(tr.Target, o.Partition); !ok || !found || got.At != tr.Offset {
					return fmt.Errorf("%s %s[%d]: source %d translated %+v (%v), target %+v", g, o.Topic, o.Partition, o.At, tr, ok, got)
				}
			}
			if seen != len(cuts) {
				return fmt.Errorf("%s: %d of its %d partitions committed on the source", g, seen, len(cuts))
			}
		}
		return nil
	})
}

// firstRecords joins group on the target, as the switched consumers do,
// and returns the first record it gets on each partition.
func firstRecords(t *testing.T, tgt *testbed.Cluster, group, topic string, partitions int) map[int32]*kgo.Record {
	t.Helper()
	cl := tgt.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		// Without a committed offset, start at the end: a missing
		// commit shows as a wrong first record, not as a lucky start.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := map[int32]*kgo.Record{}
	for len(first) < partitions {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s: first records on %d of %d partitions", group, len(first), partitions)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r
			}
		})
	}
	cl.LeaveGroup()
	return first
}

// A consumer group that stops on the source and starts on the target, with
// the same group id, resumes on every partition at exactly the record after
// the last one it processed: no duplicate, no gap. Producers keep writing
// throughout; the cut points are random, some far behind the head, some in
// a compacted topic and in a topic with aborted transactions.
func TestConsumerFirstSwitch(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	const orders, ordersParts = "app-orders", 16
	if err := src.CreateTopic(orders, ordersParts, nil); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateTopic("app-compact", 4, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateTopic("app-txn", 4, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Each record says where it was written, so a wrong record shows.
	value := func(topic string, p int32, i int) []byte { return []byte(fmt.Sprintf("%s/%d/%d", topic, p, i)) }
	for b := range 10 {
		var recs []*kgo.Record
		for p := range int32(4) {
			for i := range 10 {
				n := b*10 + i
				recs = append(recs, &kgo.Record{Topic: "app-compact", Partition: p, Key: []byte(fmt.Sprint(n % 13)), Value: value("app-compact", p, n)})
			}
		}
		src.Produce(t, recs)
	}
	src.Compact()
	txn := src.Client(t, kgo.TransactionalID("w"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 40 {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := range int32(4) {
			txn.Produce(ctx, &kgo.Record{Topic: "app-txn", Partition: p, Value: value("app-txn", p, i)}, nil)
		}
		if err := txn.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		testbed.EndTransaction(t, ctx, txn, i%3 != 1)
	}
	seq := make([]int, ordersParts)
	producer := src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceOrders := func(n int) error {
		var recs []*kgo.Record
		for i := range n {
			p := int32(i % ordersParts)
			recs = append(recs, &kgo.Record{Topic: orders, Partition: p, Value: value(orders, p, seq[p])})
			seq[p]++
		}
		return producer.ProduceSync(ctx, recs...).FirstErr()
	}
	if err := produceOrders(16 * 300); err != nil {
		t.Fatal(err)
	}

	b := startBed(t, src, tgt, syncAll, bedOptions{readCommitted: true})

	// A producer keeps writing while groups are cut and switched.
	pctx, pstop := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		for pctx.Err() == nil {
			if err := produceOrders(64); err != nil && pctx.Err() == nil {
				t.Errorf("live producer: %v", err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { pstop(); pwg.Wait() }()

	rng := rand.New(rand.NewPCG(42, 42))
	type cut struct {
		topic  string
		parts  int
		source map[int32][]*kgo.Record // committed source records at the cut
		at     map[int32]int64
	}
	cuts := map[string]cut{}
	groups := map[string]map[int32]int64{}
	for i := range 20 {
		g := fmt.Sprintf("app-group-%02d", i)
		c := cut{topic: orders, parts: ordersParts, source: map[int32][]*kgo.Record{}, at: map[int32]int64{}}
		switch i % 5 {
		case 3:
			c.topic, c.parts = "app-compact", 4
		case 4:
			c.topic, c.parts = "app-txn", 4
		}
		offsets := kadm.Offsets{}
		for p := range int32(c.parts) {
			recs := src.Read(t, c.topic, p, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			c.source[p] = recs
			// A committed offset anywhere from the log start to just before
			// the last record: some far behind the head, some in gaps.
			lo := src.PartitionInfo(c.topic, p).LogStartOffset
			hi := recs[len(recs)-1].Offset
			at := lo + rng.Int64N(hi-lo+1)
			if i == 0 {
				at = lo // the group lagging furthest behind
			}
			c.at[p] = at
			offsets.Add(kadm.Offset{Topic: c.topic, Partition: p, At: at, LeaderEpoch: -1, Metadata: "cut-" + g})
		}
		if _, err := b.srcAdm.CommitOffsets(ctx, g, offsets); err != nil {
			t.Fatal(err)
		}
		cuts[g] = c
		groups[g] = c.at
	}

	// One more group really consumes on the source with a franz-go group
	// member: it processes what it polls, commits, and leaves.
	member := src.Client(t, kgo.ConsumerGroup("app-real"), kgo.ConsumeTopics(orders), kgo.DisableAutoCommit())
	processed := map[int32]*kgo.Record{}
	for n := 0; n < 2000 || len(processed) < ordersParts; {
		fs := member.PollRecords(ctx, 300)
		if ctx.Err() != nil {
			t.Fatal("the source group member got no records")
		}
		fs.EachRecord(func(r *kgo.Record) { processed[r.Partition] = r; n++ })
		if err := member.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
	}
	member.LeaveGroup()
	member.Close()
	real := cut{topic: orders, parts: ordersParts, source: map[int32][]*kgo.Record{}, at: map[int32]int64{}}
	for p, r := range processed {
		real.at[p] = r.Offset + 1
		real.source[p] = src.Read(t, orders, p)
	}
	cuts["app-real"] = real
	groups["app-real"] = real.at

	b.synced(t, groups, time.Minute)
	for g, c := range cuts {
		first := firstRecords(t, tgt, g, c.topic, c.parts)
		for p := range int32(c.parts) {
			// The record the group must see first: the first source record
			// at or after its committed offset.
			var want *kgo.Record
			for _, r := range c.source[p] {
				if r.Offset >= c.at[p] {
					want = r
					break
				}
			}
			if got := first[p]; string(got.Value) != string(want.Value) {
				t.Errorf("%s %s[%d] committed %d: first record on the target %q, want %q", g, c.topic, p, c.at[p], got.Value, want.Value)
			}
		}
	}
	// The committed metadata came along.
	resp, err := b.tgtAdm.FetchOffsets(ctx, "app-group-05")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := resp.Lookup(orders, 0); !ok || o.Metadata != "cut-app-group-05" {
		t.Errorf("metadata on the target %+v", o)
	}
}
