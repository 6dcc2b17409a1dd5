// Package demo is `kmirror demo`: a consumer-first migration between two
// embedded clusters, narrated step by step as in the seed article (a)–(e),
// with the checks of the migration assistant and a summary that counts
// every record.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/kmirror/kmirror/internal/app"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/migrate"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/verify"
)

// Seed-like topics and groups: the seed's allow-list, and one consumer
// group per application.
var (
	topics = []string{"app1-t1", "app1-t2", "app2-t1", "app3-t1", "app3-t2"}
	groups = map[string][]string{"app1-consumer": {"app1-t1", "app1-t2"}, "app2-consumer": {"app2-t1"}}
)

const partitions = 4

// consumed holds the topics a group consumes.
var consumed = func() map[string]bool {
	m := map[string]bool{}
	for _, ts := range groups {
		for _, t := range ts {
			m[t] = true
		}
	}
	return m
}()

// Options tune the demo.
type Options struct {
	// Records is how many records the producers write on the source before
	// the switch (spread over the topics).
	Records int
	// Serve, when set, is started with the running mirror (the HTTP status
	// page) and stopped with it.
	Serve func(ctx context.Context, a *app.App) error
	// KeepRunning leaves the clusters and the mirror up after the summary
	// until ctx ends.
	KeepRunning bool
	Log         *slog.Logger
}

// Summary is what the demo counted.
type Summary struct {
	Copied          int64 // records copied to the target
	GroupsSwitched  int
	Duplicates      int // records a consumer saw twice across the switch
	Lost            int // records written and never consumed
	Elapsed         time.Duration
	RecordsVerified int // records verify found identical on both clusters
}

// Run runs the demo, narrating to out.
func Run(ctx context.Context, out io.Writer, opts Options) (Summary, error) {
	if opts.Records <= 0 {
		opts.Records = 20_000
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	d := &demo{out: out, began: time.Now(), opts: opts, seen: map[string]int{}}
	return d.run(ctx)
}

type demo struct {
	out   io.Writer
	began time.Time
	opts  Options

	src, tgt *kfake.Cluster
	cfg      *config.Config

	mu      sync.Mutex
	written []string       // every value produced, in order
	awaited []string       // those written to a topic a group consumes
	seen    map[string]int // how often a consumer saw each value
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "[%5.1fs] %s\n", time.Since(d.began).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) run(ctx context.Context) (Summary, error) {
	var sum Summary
	var err error
	if d.src, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...)); err != nil {
		return sum, fmt.Errorf("start the source cluster: %w", err)
	}
	defer d.src.Close()
	if d.tgt, err = kfake.NewCluster(kfake.NumBrokers(1)); err != nil {
		return sum, fmt.Errorf("start the target cluster: %w", err)
	}
	defer d.tgt.Close()
	d.say("two clusters up: my-source-cluster at %s, my-target-cluster at %s", d.src.ListenAddrs()[0], d.tgt.ListenAddrs()[0])
	if d.cfg, err = d.config(topics); err != nil {
		return sum, err
	}

	// (a) The applications run on the source; the mirror starts.
	d.say("(a) the applications run on the source: producers write to %s; groups %s consume", strings.Join(topics, ", "), strings.Join(groupNames(), ", "))
	prodCtx, stopProducers := context.WithCancel(ctx)
	defer stopProducers()
	producers, err := d.client(d.src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return sum, err
	}
	var prodGroup errgroup.Group
	prodGroup.Go(func() error { return d.produce(prodCtx, producers, d.opts.Records) })

	consCtx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
	var consGroup errgroup.Group
	for g, ts := range groups {
		consGroup.Go(func() error { return d.consume(consCtx, d.src, g, ts) })
	}

	a := app.New(d.cfg, d.opts.Log, app.Options{Version: "demo"})
	appCtx, stopApp := context.WithCancel(context.Background())
	appDone := make(chan error, 1)
	go func() { appDone <- a.Run(appCtx) }()
	stopMirror := sync.OnceValue(func() error {
		stopApp()
		return <-appDone
	})
	defer stopMirror() //nolint:errcheck // stopped explicitly below, where its error counts
	if d.opts.Serve != nil {
		go func() {
			if err := d.opts.Serve(appCtx, a); err != nil {
				d.say("status page: %v", err)
			}
		}()
	}
	d.say("    kmirror mirrors them to the target with the seed's settings (identity policy, offset syncs on the target, group offset sync)")

	collector, err := status.New(d.cfg, d.opts.Log, status.Options{})
	if err != nil {
		return sum, err
	}
	defer collector.Close()
	if err := d.waitCopying(ctx, collector); err != nil {
		return sum, err
	}

	// (b) Stop the consumers on the source and wait for the verdict.
	stopConsumers()
	if err := consGroup.Wait(); err != nil {
		return sum, err
	}
	d.say("(b) the consumers stopped on the source; asking `kmirror migrate ready` for each group")
	for _, g := range groupNames() {
		if err := d.waitReady(ctx, collector, g); err != nil {
			return sum, err
		}
	}

	// (c) The consumers start on the target, at the translated offsets.
	tgtCtx, stopTargetConsumers := context.WithCancel(ctx)
	defer stopTargetConsumers()
	var tgtGroup errgroup.Group
	for g, ts := range groups {
		tgtGroup.Go(func() error { return d.consume(tgtCtx, d.tgt, g, ts) })
	}
	d.say("(c) the consumers started on the target: each group resumes at the record after its last commit on the source")

	// (d) Stop the producers on the source; drain.
	stopProducers()
	if err := prodGroup.Wait(); err != nil {
		return sum, err
	}
	producers.Close()
	d.say("(d) the producers stopped on the source after %d records; `kmirror migrate drain` waits for the last ones", len(d.written))
	// The demo stopped its producers itself: a short quiet window shows
	// the rule without making the demo wait migrate drain's default.
	const quiet = time.Second
	drainer, err := migrate.NewDrainer(ctx, d.cfg, topics, quiet, d.opts.Log)
	if err != nil {
		return sum, err
	}
	defer drainer.Close()
	if err := drainer.Wait(ctx, 200*time.Millisecond, time.Minute, func(st migrate.DrainState) {}); err != nil {
		return sum, fmt.Errorf("drain: %w", err)
	}
	d.say("    drained: every source partition's end is on the target, and nothing wrote to them for %s", quiet)
	journal.Note(ctx, d.cfg, d.opts.Log, drainer.Events(time.Now(), journal.By("kmirror demo (migrate drain)"))...)
	rep, err := verify.Run(ctx, d.cfg, verify.Options{Topics: topics}, d.opts.Log)
	if err != nil {
		return sum, fmt.Errorf("verify: %w", err)
	}
	if !rep.Identical {
		return sum, fmt.Errorf("verify found differences: %+v", rep.Total)
	}
	sum.RecordsVerified = int(rep.Total.Identical)
	for _, f := range collector.Collect(ctx).Flows {
		for _, t := range f.Topics {
			sum.Copied += t.Copied
		}
	}
	journal.Note(ctx, d.cfg, d.opts.Log, rep.Events(time.Now(), journal.By("kmirror demo (verify)"))...)
	d.say("    `kmirror verify`: %d records identical on both clusters (key, value, headers, timestamp, order) over %d partitions",
		rep.Total.Identical, rep.Total.Partitions)

	// (e) The producers write to the target; the topics leave the
	// allow-list.
	tgtProducer, err := d.client(d.tgt, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return sum, err
	}
	defer tgtProducer.Close()
	before := len(d.written)
	if err := d.produce(ctx, tgtProducer, 2_000); err != nil {
		return sum, err
	}
	d.say("(e) the producers write to the target now (%d more records); the topics leave the allow-list (what SIGHUP does after editing topicsPattern)", len(d.written)-before)
	rest, err := d.config([]string{"none-left"})
	if err != nil {
		return sum, err
	}
	for _, change := range a.Reload(rest) {
		d.say("    needs a restart: %s", change)
	}
	collector.SetFlows(rest.Flows)

	// Every record consumed exactly once, across the switch.
	if err := d.waitConsumed(ctx); err != nil {
		return sum, err
	}
	if err := d.waitDone(ctx, collector); err != nil {
		return sum, err
	}
	r := collector.Collect(ctx)
	for _, f := range r.Flows {
		for _, g := range f.Groups {
			if g.Verdict == status.VerdictSwitched {
				sum.GroupsSwitched++
			}
		}
	}
	stopTargetConsumers()
	if err := tgtGroup.Wait(); err != nil {
		return sum, err
	}
	sum.Duplicates, sum.Lost = d.count()
	sum.Elapsed = time.Since(d.began)
	d.say("summary: %d records copied, %d verified, %d groups switched, %d duplicates, %d lost", sum.Copied, sum.RecordsVerified, sum.GroupsSwitched, sum.Duplicates, sum.Lost)
	if sum.Duplicates > 0 || sum.Lost > 0 {
		return sum, errors.New("the switch was not exact")
	}
	if d.opts.KeepRunning {
		d.say("still running (--keep-running); stop with Ctrl-C")
		<-ctx.Done()
	}
	if err := stopMirror(); err != nil {
		return sum, fmt.Errorf("mirror: %w", err)
	}
	return sum, nil
}

// config is the seed's KafkaMirrorMaker2, pointed at the demo clusters and
// selecting the given topics.
func (d *demo) config(selected []string) (*config.Config, error) {
	text := fmt.Sprintf(`connectCluster: my-target-cluster
clusters:
  - alias: my-source-cluster
    bootstrapServers: %s
  - alias: my-target-cluster
    bootstrapServers: %s
mirrors:
  - sourceCluster: my-source-cluster
    targetCluster: my-target-cluster
    topicsPattern: %q
    groupsPattern: "^(app1.*|app2.*)$"
    sourceConnector:
      tasksMax: 4
      config:
        replication.policy.class: io.strimzi.kafka.connect.mirror.IdentityReplicationPolicy
        offset-syncs.topic.location: target
        sync.topic.acls.enabled: "false"
        refresh.topics.enabled: "false"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: "true"
        sync.group.offsets.interval.seconds: 1
        emit.checkpoints.interval.seconds: 1
        offset-syncs.topic.location: target
        replication.policy.class: io.strimzi.kafka.connect.mirror.IdentityReplicationPolicy
`, d.src.ListenAddrs()[0], d.tgt.ListenAddrs()[0], strings.Join(selected, ", "))
	cfg, err := config.Parse(filepath.Join("demo", "kmirror.yaml"), []byte(text), config.Options{})
	if err != nil {
		return nil, fmt.Errorf("the demo's configuration: %w", err)
	}
	return cfg, nil
}

func (d *demo) client(c *kfake.Cluster, opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
}

// produce writes n records round-robin over the topics and partitions, or
// fewer when ctx ends first; values are unique, so that duplicates and
// losses can be counted.
func (d *demo) produce(ctx context.Context, cl *kgo.Client, n int) error {
	const batch = 200
	for i := 0; i < n && ctx.Err() == nil; i += batch {
		var recs []*kgo.Record
		d.mu.Lock()
		for j := i; j < min(i+batch, n); j++ {
			seq := len(d.written)
			topic := topics[seq%len(topics)]
			p := int32(seq / len(topics) % partitions)
			v := fmt.Sprintf("%s-%d-%07d", topic, p, seq)
			d.written = append(d.written, v)
			if consumed[topic] {
				d.awaited = append(d.awaited, v)
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprint(seq % 97)), Value: []byte(v)})
		}
		d.mu.Unlock()
		if err := cl.ProduceSync(context.WithoutCancel(ctx), recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		// A steady stream rather than one burst.
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// consume reads the group's topics on cluster c until ctx ends, counting
// every value, and commits what it read before it leaves.
func (d *demo) consume(ctx context.Context, c *kfake.Cluster, group string, ts []string) error {
	cl, err := d.client(c, kgo.ConsumerGroup(group), kgo.ConsumeTopics(ts...), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		d.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) { d.seen[string(r.Value)]++ })
		d.mu.Unlock()
		if err := cl.CommitUncommittedOffsets(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("commit %s: %w", group, err)
		}
	}
	// Everything counted was committed after each poll; leave cleanly.
	return nil
}

// waitCopying waits until the mirror has caught up once, narrating the lag.
func (d *demo) waitCopying(ctx context.Context, c *status.Collector) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := c.Collect(ctx)
		var copied, lag int64
		for _, t := range r.Flows[0].Topics {
			copied, lag = copied+t.Copied, lag+t.LagRecords
		}
		if copied > 0 {
			d.say("    mirroring: %d records copied, %d behind", copied, lag)
			if copied > int64(d.opts.Records/4) {
				return nil
			}
		}
		if err := pause(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	return errors.New("the mirror did not start copying within 30s")
}

// waitReady asks for the group's verdict until it is ready, narrating the
// first reasons it is not.
func (d *demo) waitReady(ctx context.Context, c *status.Collector, group string) error {
	deadline := time.Now().Add(30 * time.Second)
	told := false
	for time.Now().Before(deadline) {
		v := migrate.Ready(c.Collect(ctx), group)
		if v.Ready {
			d.say("    %s: READY — offsets translated exactly and committed on the target", group)
			journal.Note(ctx, d.cfg, d.opts.Log, v.Events(time.Now(), journal.By("kmirror demo (migrate ready)"))...)
			return nil
		}
		if !told {
			var reasons []string
			for _, f := range v.Flows {
				reasons = append(reasons, f.Reasons...)
			}
			reasons = append(reasons, v.Reasons...)
			if len(reasons) > 2 {
				reasons = append(reasons[:2], fmt.Sprintf("… %d more", len(reasons)-2))
			}
			d.say("    %s: not ready yet: %s", group, strings.Join(reasons, "; "))
			told = true
		}
		if err := pause(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("group %s was not ready within 30s", group)
}

// waitDone waits until the migration's journal, as status reads it,
// tells every topic and group of the demo as done: the running worker
// records the topics' removal at its next refresh after the reload.
func (d *demo) waitDone(ctx context.Context, c *status.Collector) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting []string
		for _, f := range c.Collect(ctx).Flows {
			for _, t := range f.Topics {
				if t.Step == nil || t.Step.Phase != string(journal.PhaseDone) {
					waiting = append(waiting, "topic "+t.Topic)
				}
			}
			for _, g := range f.Groups {
				if g.Step == nil || g.Step.Phase != string(journal.PhaseDone) {
					waiting = append(waiting, "group "+g.Group)
				}
			}
		}
		if len(waiting) == 0 {
			d.say("    the migration's journal tells it: %d topics and %d groups done", len(topics), len(groups))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within 30s: %s", strings.Join(waiting, ", "))
		}
		if err := pause(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitConsumed waits until the consumers on the target have seen every
// record written to the group's topics.
func (d *demo) waitConsumed(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, lost := d.count(); lost == 0 {
			return nil
		}
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil // what is missing is counted as lost
}

// count returns how many consumed records were seen more than once, and
// how many written to a consumed topic were never seen.
func (d *demo) count() (duplicates, lost int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, v := range d.awaited {
		switch n := d.seen[v]; {
		case n == 0:
			lost++
		case n > 1:
			duplicates += n - 1
		}
	}
	return duplicates, lost
}

func groupNames() []string {
	var names []string
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	return names
}

func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
