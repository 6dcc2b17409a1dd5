package status

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// DefaultMaxLag is the replication lag under which a group may be switched.
const DefaultMaxLag = 10 * time.Second

// DefaultStallAfter is how long a partition behind its source's end may go
// without its progress moving before its flow is StateStalled.
const DefaultStallAfter = 2 * time.Minute

// Live is what a running worker knows beyond the clusters.
type Live struct {
	// View is the worker's view of the flow's progress: from memory for
	// what it copies, from the clusters for the rest.
	View      progress.View
	Blocked   []discover.Blocked
	Heartbeat *Heartbeat
}

// Options tune a Collector.
type Options struct {
	// MaxLag is the lag threshold of the switch verdict; DefaultMaxLag when 0.
	MaxLag time.Duration
	// StallAfter is how long a partition behind may go without moving
	// before its flow is stalled; DefaultStallAfter when 0.
	StallAfter time.Duration
	// Live, when set, gives a running worker's view of a flow by name;
	// without it the progress is read from the clusters.
	Live func(flow string) (Live, bool)
	// Partitions keeps per-partition detail in the report.
	Partitions bool
}

// Collector computes Reports for one configuration. It keeps the previous
// sample of each topic, to compute copy rates.
type Collector struct {
	cfg  *config.Config
	log  *slog.Logger
	opts Options

	clients map[string]*kgo.Client

	mu    sync.Mutex
	prev  map[string]sample // by flow name + "\x00" + topic
	flows []*config.Flow

	jmu         sync.Mutex
	journals    map[string]*journal.Follower // by flow name
	recordFails map[string]bool              // by flow name: the last record failed

	// rmu guards readers: each flow's stored progress and its pair's,
	// followed for the collector's life, so that a refresh reads only
	// what is new.
	rmu     sync.Mutex
	readers map[string]*progress.Reader // by flow name
}

type sample struct {
	at     time.Time
	copied int64
}

// New connects a client to every cluster of cfg; nothing is sent until
// Collect.
func New(cfg *config.Config, log *slog.Logger, opts Options) (*Collector, error) {
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultMaxLag
	}
	if opts.StallAfter <= 0 {
		opts.StallAfter = DefaultStallAfter
	}
	c := &Collector{cfg: cfg, log: log.With("component", "status"), opts: opts,
		clients: map[string]*kgo.Client{}, prev: map[string]sample{}, flows: cfg.Flows, journals: map[string]*journal.Follower{}, recordFails: map[string]bool{},
		readers: map[string]*progress.Reader{}}
	for _, cl := range cfg.Clusters {
		client, err := kgo.NewClient(cluster.Options(cl, c.log)...)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("cluster %q: %w", cl.Alias, err)
		}
		c.clients[cl.Alias] = client
	}
	return c, nil
}

// Close closes the clients.
func (c *Collector) Close() {
	for _, cl := range c.clients {
		cl.Close()
	}
	c.jmu.Lock()
	for _, fl := range c.journals {
		fl.Close()
	}
	c.jmu.Unlock()
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for _, p := range c.readers {
		p.Close()
	}
}

// MaxLag is the lag threshold the verdicts use.
func (c *Collector) MaxLag() time.Duration { return c.opts.MaxLag }

// SetFlows makes the collector report these flows from now on (after a
// reload of the configuration changed their selections); their clusters
// must be those of the configuration it was made with.
func (c *Collector) SetFlows(flows []*config.Flow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flows = flows
}

// Collect reads the state of every flow. What cannot be read is listed in
// the flow's Errors; the rest is still reported.
func (c *Collector) Collect(ctx context.Context) Report {
	r := Report{Time: time.Now().UTC()}
	c.mu.Lock()
	flows := c.flows
	c.mu.Unlock()
	for _, f := range flows {
		r.Flows = append(r.Flows, c.flow(ctx, f))
	}
	return r
}

func (c *Collector) flow(ctx context.Context, f *config.Flow) Flow {
	out := Flow{Name: f.Name(), Source: f.Source, Target: f.Target, Direction: DirectionForward,
		Stalled: []string{}, Topics: []Topic{}, Groups: []Group{}, Blocked: []discover.Blocked{}, Errors: []string{}}
	if c.cfg.LeavesTarget(f) {
		out.Direction = DirectionBack
	}
	out.State = StateUnknown
	src, tgt := kadm.NewClient(c.clients[f.Source]), kadm.NewClient(c.clients[f.Target])
	fail := func(err error) { out.Errors = append(out.Errors, err.Error()) }
	// Who runs the flow first: that none does is worth saying even when
	// the rest cannot be read. Workers stays nil (unknown, not none) when
	// the group cannot be described.
	workers, werr := workgroup.Describe(ctx, tgt, workgroup.Name(f.Source, f.Target))
	if werr != nil {
		fail(werr)
	} else {
		out.Workers = append([]workgroup.Worker{}, workers...)
	}
	stopped := werr == nil && len(workers) == 0
	if stopped {
		out.State, out.StateReason = StateStopped, ReasonNoWorker
	}

	var view progress.View
	if c.opts.Live != nil {
		if live, ok := c.opts.Live(f.Name()); ok {
			view = live.View
			out.Blocked = append(out.Blocked, live.Blocked...)
			out.Heartbeat = live.Heartbeat
		}
	}
	if view == nil {
		var err error
		if view, err = c.stored(ctx, f); err != nil {
			fail(err)
			return out
		}
	}
	sel, err := discover.Topics(ctx, c.clients[f.Source], f)
	if err != nil {
		fail(err)
		return out
	}
	topics, moved, err := c.topics(ctx, f, c.clients[f.Source], sel.Topics, view)
	if err != nil {
		fail(err)
	}
	out.Topics = topics
	lagOf := map[string]float64{}
	for _, t := range topics {
		lagOf[t.Topic] = t.LagSeconds
	}
	if !moved.last.IsZero() {
		out.LastProgress = &moved.last
	}
	out.Stalled = moved.stalled
	switch {
	case stopped || err != nil:
		// Stopped whatever the lag, or unknown.
	case len(moved.stalled) > 0:
		out.State = StateStalled
		out.StateReason = fmt.Sprintf("the progress of %s has not moved for %s while the source is ahead", listed(moved.stalled, 5), c.opts.StallAfter)
	case slices.ContainsFunc(topics, func(t Topic) bool { return t.LagRecords > 0 }):
		out.State = StateCopying
	default:
		out.State = StateCaughtUp
	}

	groups, err := c.groups(ctx, f, src, tgt, view, lagOf)
	if err != nil {
		fail(err)
	}
	out.Groups = groups
	c.steps(ctx, f, &out, sel.Topics, func(names []string) map[string]int64 { return c.copiedOf(ctx, src, view, names) })
	return out
}

// copiedOf sums, for topics the flow no longer selects, what their
// stored progress says was copied: kmirror keeps a topic's progress after
// it left the allow-list. A topic whose partitions the source no longer
// lists, or whose progress cannot be read, is left out (the caller falls
// back on the journal).
func (c *Collector) copiedOf(ctx context.Context, src *kadm.Client, view progress.View, names []string) map[string]int64 {
	copied := map[string]int64{}
	if len(names) == 0 {
		return copied
	}
	ends, err := src.ListEndOffsets(ctx, names...)
	if err != nil {
		c.log.Debug("cannot list the partitions of finished topics", "err", err)
		return copied
	}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil {
			return
		}
		cp, ok, err := view.Copied(ctx, progress.Partition{Topic: e.Topic, Partition: e.Partition})
		if err != nil || !ok {
			return
		}
		copied[e.Topic] += cp.Next - cp.Start
	})
	return copied
}

// moved is what the progress of a flow's partitions says of its movement.
type moved struct {
	// last is when any partition's progress last moved.
	last time.Time
	// stalled lists the partitions behind their source's end whose
	// progress has not moved for StallAfter, as "topic[p]".
	stalled []string
}

// listed names the first n of names, and how many more there are.
func listed(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// topics computes the lag of every selected topic, and how its progress
// moves.
func (c *Collector) topics(ctx context.Context, f *config.Flow, src *kgo.Client, sel []discover.Topic, view progress.View) ([]Topic, moved, error) {
	mv := moved{stalled: []string{}}
	if len(sel) == 0 {
		return []Topic{}, mv, nil
	}
	leaders := make(map[string][]int32, len(sel))
	for _, t := range sel {
		leaders[t.Source] = t.Leaders
		if int32(len(t.Leaders)) != t.Partitions {
			leaders[t.Source] = cluster.UnknownLeaders(t.Partitions)
		}
	}
	ends, err := cluster.ListOffsets(ctx, src, leaders, cluster.AtEnd)
	if err != nil {
		return []Topic{}, mv, fmt.Errorf("list end offsets of %q: %w", f.Source, err)
	}
	starts, err := cluster.ListOffsets(ctx, src, leaders, cluster.AtStart)
	if err != nil {
		return []Topic{}, mv, fmt.Errorf("list start offsets of %q: %w", f.Source, err)
	}
	now := time.Now()
	// The age of the oldest record not yet copied needs that record: a
	// fetch of lagging partitions at their next offset (see pickSamples).
	var lagging []lagSample
	out := make([]Topic, 0, len(sel))
	for _, t := range sel {
		tp := Topic{Topic: t.Source, Target: t.Target, Partitions: []Partition{}}
		for p := range t.Partitions {
			e, ok := ends.Lookup(t.Source, p)
			if !ok || e.Err != nil {
				continue
			}
			part := Partition{Partition: p, SourceEnd: e.Offset}
			copied, ok, err := view.Copied(ctx, progress.Partition{Topic: t.Source, Partition: p})
			if err != nil {
				return out, mv, fmt.Errorf("read the progress of %s: %w", f.Name(), err)
			}
			s, sok := starts.Lookup(t.Source, p)
			from := copied.Next
			if ok {
				part.Next = &copied.Next
				tp.Copied += copied.Next - copied.Start
				part.Stopped = copied.Stopped
				if part.Stopped == "" && sok && s.Err == nil {
					part.Stopped = stoppedBy(f, copied.Next, s.Offset, e.Offset)
				}
			} else if sok && s.Err == nil {
				from = s.Offset
			}
			part.LagRecords = max(0, e.Offset-from)
			tp.LagRecords += part.LagRecords
			if ok && copied.Moved.After(mv.last) {
				mv.last = copied.Moved
			}
			if ok && part.LagRecords > 0 && part.Stopped == "" && !copied.Moved.IsZero() && now.Sub(copied.Moved) > c.opts.StallAfter {
				mv.stalled = append(mv.stalled, fmt.Sprintf("%s[%d]", t.Source, p))
			}
			if part.LagRecords > 0 {
				lagging = append(lagging, lagSample{t.Source, p, from, part.LagRecords})
			}
			tp.Partitions = append(tp.Partitions, part)
		}
		out = append(out, tp)
	}
	ages := c.oldest(ctx, f, pickSamples(lagging, MaxAgeSamples), now)
	c.mu.Lock()
	for i := range out {
		t := &out[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if age, ok := ages[progress.Partition{Topic: t.Topic, Partition: p.Partition}]; ok && p.LagRecords > 0 {
				p.LagSeconds = age.Seconds()
				t.LagSeconds = max(t.LagSeconds, p.LagSeconds)
			}
		}
		key := f.Name() + "\x00" + t.Topic
		if prev, ok := c.prev[key]; ok && now.Sub(prev.at) > 0 && t.Copied >= prev.copied {
			rate := float64(t.Copied-prev.copied) / now.Sub(prev.at).Seconds()
			t.RecordsPerSecond = &rate
		}
		c.prev[key] = sample{at: now, copied: t.Copied}
		if !c.opts.Partitions {
			t.Partitions = []Partition{}
		}
	}
	c.mu.Unlock()
	return out, mv, nil
}

// MaxAgeSamples bounds how many lagging partitions have the age of their
// next record fetched in one collection: each fetch returns at least a whole
// record batch, so a mirror far behind on many partitions would otherwise
// have every refresh read megabytes.
const MaxAgeSamples = 64

type lagSample struct {
	topic     string
	partition int32
	next, lag int64
}

// pickSamples picks at most n lagging partitions: the most lagging of each topic
// first, round-robin over the topics, so that every lagging topic gets a
// lag in seconds.
func pickSamples(lagging []lagSample, n int) map[string]map[int32]kgo.Offset {
	byTopic := map[string][]lagSample{}
	var topics []string
	for _, l := range lagging {
		if byTopic[l.topic] == nil {
			topics = append(topics, l.topic)
		}
		byTopic[l.topic] = append(byTopic[l.topic], l)
	}
	for _, ls := range byTopic {
		slices.SortStableFunc(ls, func(a, b lagSample) int { return cmp.Compare(b.lag, a.lag) })
	}
	out := map[string]map[int32]kgo.Offset{}
	for picked, round := 0, 0; picked < n; round++ {
		more := false
		for _, t := range topics {
			if ls := byTopic[t]; round < len(ls) && picked < n {
				if out[t] == nil {
					out[t] = map[int32]kgo.Offset{}
				}
				out[t][ls[round].partition] = kgo.NewOffset().At(ls[round].next)
				picked++
				more = true
			}
		}
		if !more {
			break
		}
	}
	return out
}

// OldestTimeout bounds the fetch of the oldest records not yet copied.
const OldestTimeout = 3 * time.Second

// oldest fetches the next record to copy of each lagging partition and
// returns how old each is. A partition whose record did not arrive in time
// is left out.
func (c *Collector) oldest(ctx context.Context, f *config.Flow, lagging map[string]map[int32]kgo.Offset, now time.Time) map[progress.Partition]time.Duration {
	ages := map[progress.Partition]time.Duration{}
	want := 0
	for _, ps := range lagging {
		want += len(ps)
	}
	if want == 0 {
		return ages
	}
	cl, err := kgo.NewClient(append(cluster.Options(c.cfg.Cluster(f.Source), c.log),
		kgo.ConsumePartitions(lagging), kgo.KeepControlRecords(), kgo.FetchMaxPartitionBytes(1<<10), kgo.FetchMaxBytes(1<<20))...)
	if err != nil {
		c.log.Warn("cannot read the oldest records not yet copied", "cluster", f.Source, "err", err)
		return ages
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, OldestTimeout)
	defer cancel()
	for len(ages) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			k := progress.Partition{Topic: p.Topic, Partition: p.Partition}
			if _, done := ages[k]; !done {
				ages[k] = max(0, now.Sub(p.Records[0].Timestamp))
				cl.PauseFetchPartitions(map[string][]int32{p.Topic: {p.Partition}})
			}
		})
	}
	return ages
}

// stoppedBy says why the worker that copies a partition stops it, as the
// source's log tells it, when its next offset to copy is next and the
// source holds [logStart, logEnd): what a reader outside the workers sees
// of a stopped partition.
func stoppedBy(f *config.Flow, next, logStart, logEnd int64) string {
	switch {
	case next > logEnd:
		return progress.ReasonTruncated
	case next < logStart && f.OvertakenPolicy != "skip":
		return progress.ReasonOvertaken(next, logStart)
	}
	return ""
}

// stored is the View of flow f from what it and its pair stored,
// through a reader kept for the collector's life.
func (c *Collector) stored(ctx context.Context, f *config.Flow) (progress.View, error) {
	c.rmu.Lock()
	p, ok := c.readers[f.Name()]
	if !ok {
		var err error
		if p, err = progress.NewReader(f, c.cfg.SameNamePair(f), c.cfg.Cluster(f.Source), c.cfg.Cluster(f.Target), c.log); err != nil {
			c.rmu.Unlock()
			return nil, fmt.Errorf("read the stored progress of %s: %w", f.Name(), err)
		}
		c.readers[f.Name()] = p
	}
	c.rmu.Unlock()
	v, err := p.View(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the stored progress of %s: %w", f.Name(), err)
	}
	return v, nil
}
