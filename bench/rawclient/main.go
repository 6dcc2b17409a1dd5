// Command rawclient is the benchmark harness's client process: it measures
// what the brokers allow without kmirror (fetch only, produce only, both at
// once, a bare fetch→produce loop) and the latency of a steady load through
// kmirror, with the client settings of a kmirror configuration. It prints
// one JSON line (workload.Result). The harness (go run ./bench) runs it; it
// is not meant to be run by hand.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/bench/internal/reqcount"
	"github.com/kmirror/kmirror/bench/internal/workload"
	"github.com/kmirror/kmirror/internal/cluster"
)

func main() {
	var (
		mode     = flag.String("mode", "", "produce, fetch, both, loop or steady")
		cfgPath  = flag.String("c", "", "kmirror configuration whose first flow's client settings to use")
		from     = flag.String("from", "", "source topic (fetch, both, loop, steady)")
		to       = flag.String("to", "", "target topic (produce, both, loop, steady)")
		onSource = flag.Bool("produce-to-source", false, "produce mode: write to the source cluster (loading)")
		srcCodec = flag.String("source-compression", "", "produce (to the source) and steady: the codec to write the source with; empty is the configuration's producer codec")
		spec     workload.Spec
		seed     = flag.Uint64("seed", 1, "generator seed")
		rate     = flag.Float64("rate", 0, "steady: records per second")
		duration = flag.Duration("duration", 10*time.Second, "steady: how long to produce")
	)
	flag.IntVar(&spec.Records, "records", 0, "records to produce or fetch")
	flag.IntVar(&spec.Size, "size", 1024, "value bytes")
	flag.IntVar(&spec.Partitions, "partitions", 1, "partitions")
	flag.StringVar(&spec.Keys, "keys", workload.KeysNone, "key distribution: none, uniform, zipf")
	flag.Parse()
	reqs := reqcount.FromEnv()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, *mode, *cfgPath, *from, *to, *onSource, *srcCodec, spec, *seed, *rate, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawclient:", err)
		os.Exit(1)
	}
	reqs.Print(os.Stderr, "rawclient")
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func run(ctx context.Context, mode, cfgPath, from, to string, onSource bool, srcCodec string, spec workload.Spec, seed uint64, rate float64, d time.Duration) (workload.Result, error) {
	cl, err := workload.Load(cfgPath)
	if err != nil {
		return workload.Result{}, err
	}
	if srcCodec != "" {
		// Later options win: the source is written with this codec.
		cl.SourceProducer = append(cl.SourceProducer, kgo.ProducerBatchCompression(cluster.Compression(srcCodec)))
	}
	switch mode {
	case "produce":
		conn, popts := cl.Target, cl.Producer
		if onSource {
			conn, popts = cl.Source, cl.SourceProducer
		}
		recs := workload.NewGenerator(spec, seed).All(to, spec.Records)
		return measure(func() (int64, int64, error) { return produce(ctx, conn, popts, recs) })
	case "fetch":
		return measure(func() (int64, int64, error) { return fetch(ctx, cl, from) })
	case "both":
		return both(ctx, cl, from, to, spec, seed)
	case "loop":
		return measure(func() (int64, int64, error) { return loop(ctx, cl, from, to) })
	case "steady":
		return steady(ctx, cl, from, to, spec, seed, rate, d)
	}
	return workload.Result{}, fmt.Errorf("-mode %q: must be produce, fetch, both, loop or steady", mode)
}

// measure times fn and the process's CPU time while it runs.
func measure(fn func() (records, bytes int64, err error)) (workload.Result, error) {
	u0, t0 := workload.Self(), time.Now()
	n, b, err := fn()
	el, u1 := time.Since(t0), workload.Self()
	return workload.Result{Records: n, Bytes: b, Seconds: el.Seconds(), CPUSeconds: (u1.CPU - u0.CPU).Seconds(), MaxRSS: u1.MaxRSS}, err
}

func newClient(opts ...[]kgo.Opt) (*kgo.Client, error) {
	var all []kgo.Opt
	for _, o := range opts {
		all = append(all, o...)
	}
	return kgo.NewClient(all...)
}

// produce writes recs and waits for every acknowledgement.
func produce(ctx context.Context, conn, popts []kgo.Opt, recs []*kgo.Record) (int64, int64, error) {
	p, err := newClient(conn, popts)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	var (
		mu    sync.Mutex
		first error
		bytes int64
	)
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			first = cmp(first, err)
			mu.Unlock()
		}
	}
	for _, r := range recs {
		bytes += workload.Bytes(r)
		p.Produce(ctx, r, promise)
	}
	if err := p.Flush(ctx); err != nil {
		return 0, 0, err
	}
	return int64(len(recs)), bytes, first
}

func cmp(first, err error) error {
	if first == nil {
		return err
	}
	return first
}

// consumer reads topic from its start (or end) with the source settings,
// and returns how many records it holds up to its current end.
func consumer(ctx context.Context, cl *workload.Clients, topic string, atEnd bool) (*kgo.Client, int64, error) {
	adm, err := newClient(cl.Source)
	if err != nil {
		return nil, 0, err
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, 0, err
	}
	starts, err := kadm.NewClient(adm).ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, 0, err
	}
	offsets := map[int32]kgo.Offset{}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, o.Partition)
		total += o.Offset - s.Offset
		if atEnd {
			offsets[o.Partition] = kgo.NewOffset().At(o.Offset)
		} else {
			offsets[o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	if len(offsets) == 0 {
		return nil, 0, fmt.Errorf("topic %q has no partitions", topic)
	}
	c, err := newClient(cl.Source, cl.Consumer, []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})})
	return c, total, err
}

// fetch reads a topic whole.
func fetch(ctx context.Context, cl *workload.Clients, topic string) (int64, int64, error) {
	c, total, err := consumer(ctx, cl, topic, false)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	var n, bytes int64
	for n < total {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, bytes, err
		}
		fs.EachError(func(t string, p int32, err error) { fmt.Fprintln(os.Stderr, "fetch:", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			n++
			bytes += workload.Bytes(r)
		})
	}
	return n, bytes, nil
}

// both fetches from one cluster and produces pre-generated records into the
// other at the same time: the brokers' work of a mirror, without a mirror.
func both(ctx context.Context, cl *workload.Clients, from, to string, spec workload.Spec, seed uint64) (workload.Result, error) {
	recs := workload.NewGenerator(spec, seed).All(to, spec.Records)
	var fres, pres workload.Result
	var ferr, perr error
	var wg sync.WaitGroup
	u0, t0 := workload.Self(), time.Now()
	wg.Go(func() {
		s := time.Now()
		fres.Records, fres.Bytes, ferr = fetch(ctx, cl, from)
		fres.Seconds = time.Since(s).Seconds()
	})
	wg.Go(func() {
		s := time.Now()
		pres.Records, pres.Bytes, perr = produce(ctx, cl.Target, cl.Producer, recs)
		pres.Seconds = time.Since(s).Seconds()
	})
	wg.Wait()
	el, u1 := time.Since(t0), workload.Self()
	return workload.Result{Records: min(fres.Records, pres.Records), Bytes: min(fres.Bytes, pres.Bytes), Seconds: el.Seconds(),
		CPUSeconds: (u1.CPU - u0.CPU).Seconds(), MaxRSS: u1.MaxRSS,
		FetchSeconds: fres.Seconds, ProduceSeconds: pres.Seconds}, errors.Join(ferr, perr)
}

// loop is a bare franz-go mirror: each fetched record is produced, as it
// is, to the same partition of the target topic; no bookkeeping.
func loop(ctx context.Context, cl *workload.Clients, from, to string) (int64, int64, error) {
	c, total, err := consumer(ctx, cl, from, false)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	p, err := newClient(cl.Target, cl.Producer)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	var acked atomic.Int64
	var mu sync.Mutex
	var first error
	done := make(chan struct{})
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			first = cmp(first, err)
			mu.Unlock()
		}
		if acked.Add(1) == total {
			close(done)
		}
	}
	var n, bytes int64
	for n < total {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, bytes, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			bytes += workload.Bytes(r)
			r.Topic = to
			p.Produce(ctx, r, promise)
		})
	}
	select {
	case <-done:
	case <-ctx.Done():
		return n, bytes, ctx.Err()
	}
	return n, bytes, first
}

// steady produces rate records per second into the source topic for d and
// measures, for each, the time from its timestamp until a consumer of the
// target topic sees it.
func steady(ctx context.Context, cl *workload.Clients, from, to string, spec workload.Spec, seed uint64, rate float64, d time.Duration) (workload.Result, error) {
	if rate <= 0 {
		return workload.Result{}, errors.New("-rate must be positive")
	}
	// The consumer reads the target: swap the roles of the connections.
	tcl := *cl
	tcl.Source = cl.Target
	c, _, err := consumer(ctx, &tcl, to, true)
	if err != nil {
		return workload.Result{}, err
	}
	defer c.Close()
	p, err := newClient(cl.Source, cl.SourceProducer)
	if err != nil {
		return workload.Result{}, err
	}
	defer p.Close()
	gen := workload.NewGenerator(spec, seed)
	// want is how many records were produced, known once producing ends;
	// until then the consumer reads on.
	var want atomic.Int64
	want.Store(math.MaxInt64)
	var lat []time.Duration
	var seen atomic.Int64
	var wg sync.WaitGroup
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		for seen.Load() < want.Load() {
			fs := c.PollFetches(cctx)
			if cctx.Err() != nil {
				return
			}
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				lat = append(lat, now.Sub(r.Timestamp))
				seen.Add(1)
			})
		}
	})
	var perr atomic.Pointer[error]
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			perr.CompareAndSwap(nil, &err)
		}
	}
	// Records are made as they are due (making one costs far less than
	// producing it), so that a rate the machine cannot sustain shows as a
	// lower achieved rate, not as a growing backlog.
	t0 := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	var sent int64
	for time.Since(t0) < d {
		select {
		case <-ctx.Done():
			return workload.Result{}, ctx.Err()
		case <-tick.C:
		}
		due := int64(rate * time.Since(t0).Seconds())
		for ; sent < due; sent++ {
			r := gen.Next(from)
			r.Timestamp = time.Now()
			p.Produce(ctx, r, promise)
		}
	}
	tick.Stop()
	elapsed := time.Since(t0)
	want.Store(sent)
	// Wait for the tail, bounded: a mirror that stalls is a finding, not a
	// hang.
	deadline := time.After(time.Minute)
	for seen.Load() < sent {
		select {
		case <-deadline:
			cancel()
			wg.Wait()
			return workload.Result{}, fmt.Errorf("%d of %d records reached the target within a minute of the end", seen.Load(), sent)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()
	if e := perr.Load(); e != nil {
		return workload.Result{}, *e
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	if len(lat) == 0 {
		return workload.Result{}, errors.New("no record produced")
	}
	return workload.Result{Records: sent, Seconds: elapsed.Seconds(), Rate: float64(sent) / elapsed.Seconds(),
		P50: q(0.50), P99: q(0.99), Max: lat[len(lat)-1]}, nil
}
