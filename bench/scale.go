package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// Settings of the scale mode (go run ./bench -scale).
const (
	// scaleRecords are the records loaded into each partition, of
	// scaleValue bytes: every partition has data, and loading takes
	// little time even for 10 000 partitions.
	scaleRecords = 4
	scaleValue   = 100
	// groupPartitions is how many partitions each group commits on.
	groupPartitions = 4
	// scaleSettle is left to kmirror after the last group came over,
	// before the idle CPU is measured: its first checkpoint and sync
	// rounds after the catch-up are over by then.
	scaleSettle = 3 * time.Second
	// Bounds of the scale mode's waits.
	scaleLoadWithin = 5 * time.Minute  // creating topics, loading, committing
	scaleCopyWithin = 15 * time.Minute // kmirror copying every partition, and syncing every group
	commandWithin   = 5 * time.Minute  // one status or migrate ready command, one HTTP request
	// scalePoll is the time between two checks of a copy or of every
	// group: each reads up to 10 000 partitions' or groups' offsets from
	// the target, which shares the CPUs with kmirror.
	scalePoll      = 100 * time.Millisecond
	scaleTimings   = 3 // status, migrate ready and the status API: median of this many
	scaleTopicName = "scale-t"
	scaleGroupName = "scale-g"
)

// scalePoint is a shape of the scale mode: how many partitions, topics and
// groups the source holds.
type scalePoint struct{ partitions, topics, groups int }

func (p scalePoint) String() string {
	return fmt.Sprintf("%d partitions, %d topics, %d groups", p.partitions, p.topics, p.groups)
}

// scaleRow is what one run of a point measured.
type scaleRow struct {
	scalePoint
	// synced is the time from kmirror's start until every partition was
	// copied and every group's offsets were on the target.
	synced    time.Duration
	idleCores float64
	mem       memory
	// status, ready and api are the medians of scaleTimings runs of
	// kmirror status --json, kmirror migrate ready for one group (0 when
	// there is no group; readyExit is its exit code) and GET
	// /api/v1/status.
	status, ready, api time.Duration
	readyExit          int
	// apiPlain and apiGzip are the bytes of the status API's body, as
	// sent without and with Accept-Encoding: gzip; gzipped tells whether
	// the server compressed.
	apiPlain, apiGzip int
	gzipped           bool
	// sync are the group sync delays: a source commit until the target
	// group held the same offsets; never counts samples that did not
	// within syncNever.
	sync  []time.Duration
	never int
}

// checkScale checks the options of the scale mode.
func (o options) checkScale() error {
	if o.kafka != "" || o.matrix {
		return errors.New("-scale runs on kfake dev-clusters: leave -kafka and -matrix out")
	}
	for _, p := range o.points() {
		if p.partitions < 1 || p.topics < 1 || p.topics > p.partitions {
			return fmt.Errorf("%s: want at least one partition per topic", p)
		}
	}
	if o.idle <= 0 {
		return errors.New("-idle must be positive")
	}
	return nil
}

// points are the shapes of a scale run: every combination of the lists.
func (o options) points() []scalePoint {
	var out []scalePoint
	for _, p := range o.partitions.v {
		for _, t := range o.topics.v {
			for _, g := range o.groups.v {
				out = append(out, scalePoint{p, t, g})
			}
		}
	}
	return out
}

// scaleRun is the scale mode: for each point and run, fresh source and
// target dev-clusters, the point's topics and groups on the source, and a
// kmirror that copies them; once it has, what it costs at rest.
func scaleRun(ctx context.Context, o options) (*scaleReport, error) {
	if err := o.checkScale(); err != nil {
		return nil, err
	}
	if o.runs < 1 {
		o.runs = 1
	}
	rep := &scaleReport{opts: o, machine: describeMachine(), loadStart: loadAverage()}
	dir, err := os.MkdirTemp("", "kmirror-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	o.logf("building kmirror")
	bins, err := build(ctx, dir, false)
	if err != nil {
		return nil, err
	}
	for i, pt := range o.points() {
		for r := range o.runs {
			o.logf("%s, run %d of %d", pt, r+1, o.runs)
			row, err := scaleOnce(ctx, o, bins, filepath.Join(dir, fmt.Sprintf("%d-%d", i, r)), pt)
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", pt, r+1, err)
			}
			rep.rows = append(rep.rows, row)
		}
	}
	rep.loadEnd = loadAverage()
	return rep, nil
}

// scaleShape is the topics and groups of a point, named and placed.
type scaleShape struct {
	topics map[string]int // partitions of each topic
	// groups commit on these partitions, spread over every topic and
	// partition in turn.
	groups map[string][]topicPartition
}

type topicPartition struct {
	topic     string
	partition int32
}

func newScaleShape(pt scalePoint) scaleShape {
	s := scaleShape{topics: map[string]int{}, groups: map[string][]topicPartition{}}
	tw, gw := len(strconv.Itoa(pt.topics-1)), len(strconv.Itoa(max(pt.groups-1, 0)))
	for t := range pt.topics {
		name := fmt.Sprintf("%s%0*d", scaleTopicName, tw, t)
		n := pt.partitions / pt.topics
		if t < pt.partitions%pt.topics {
			n++
		}
		s.topics[name] = n
	}
	// Partitions are taken round-robin over the topics, so that with as
	// many groups as topics every topic has a group.
	names := s.topicNames()
	order := make([]topicPartition, 0, pt.partitions)
	for p := 0; len(order) < pt.partitions; p++ {
		for _, t := range names {
			if p < s.topics[t] {
				order = append(order, topicPartition{t, int32(p)})
			}
		}
	}
	per := min(groupPartitions, len(order))
	for g := range pt.groups {
		name := fmt.Sprintf("%s%0*d", scaleGroupName, gw, g)
		for j := range per {
			s.groups[name] = append(s.groups[name], order[(g*per+j)%len(order)])
		}
	}
	return s
}

// topicNames and groupNames are the shape's, sorted.
func (s scaleShape) topicNames() []string { return slices.Sorted(maps.Keys(s.topics)) }
func (s scaleShape) groupNames() []string { return slices.Sorted(maps.Keys(s.groups)) }

// scaleOnce measures one run of a point.
func scaleOnce(ctx context.Context, o options, bins binaries, dir string, pt scalePoint) (row scaleRow, err error) {
	row.scalePoint = pt
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return row, err
	}
	src, srcAddr, err := devCluster(ctx, bins.kmirror, "source")
	if err != nil {
		return row, err
	}
	defer func() { _ = src.stop(10 * time.Second) }()
	tgt, tgtAddr, err := devCluster(ctx, bins.kmirror, "target")
	if err != nil {
		return row, err
	}
	defer func() { _ = tgt.stop(10 * time.Second) }()
	scl, err := kgo.NewClient(kgo.SeedBrokers(srcAddr))
	if err != nil {
		return row, err
	}
	defer scl.Close()
	// The harness asks for the target's topics before kmirror creates
	// them: a short metadata age, so that the client does not take them
	// for missing for kgo's default 5 s after they appear.
	tcl, err := kgo.NewClient(kgo.SeedBrokers(tgtAddr), kgo.MetadataMinAge(scalePoll))
	if err != nil {
		return row, err
	}
	defer tcl.Close()
	sadm, tadm := kadm.NewClient(scl), kadm.NewClient(tcl)

	shape := newScaleShape(pt)
	o.logf("  creating %d topics, loading %d records, committing %d groups", pt.topics, pt.partitions*scaleRecords, pt.groups)
	ends, err := loadScale(ctx, scl, sadm, shape)
	if err != nil {
		return row, err
	}
	cfg := filepath.Join(dir, "kmirror.yaml")
	if err := writeScaleConfig(cfg, srcAddr, tgtAddr, o); err != nil {
		return row, err
	}

	o.logf("  kmirror run")
	t0 := time.Now()
	km, err := startProc("kmirror run", nil, bins.kmirror, "run", "-c", cfg, "--http", "127.0.0.1:0")
	if err != nil {
		return row, err
	}
	defer func() {
		if serr := km.stop(60 * time.Second); serr != nil && err == nil {
			err = fmt.Errorf("kmirror run did not stop cleanly: %w\n%s", serr, km.tail())
		}
	}()
	line, err := km.waitFor(ctx, `msg="serving HTTP"`, time.Minute)
	if err != nil {
		return row, err
	}
	addr := logValue(line, "addr")
	if addr == "" {
		return row, fmt.Errorf("no address in %q", line)
	}
	if err := waitScaleCopied(ctx, tadm, km, ends); err != nil {
		return row, err
	}
	o.logf("    every partition copied after %.1f s", time.Since(t0).Seconds())
	if err := waitGroupsSynced(ctx, tadm, km, shape, ends); err != nil {
		return row, err
	}
	row.synced = time.Since(t0)
	o.logf("    every group on the target after %.1f s", row.synced.Seconds())

	if err := sleep(ctx, scaleSettle); err != nil {
		return row, err
	}
	o.logf("  idle for %s", o.idle)
	if row.idleCores, row.mem, err = idle(ctx, km, o.idle); err != nil {
		return row, err
	}
	o.logf("    %.3f cores, RSS %d MiB (peak %d MiB)", row.idleCores, row.mem.rss>>20, row.mem.peak>>20)
	if err := timeReads(ctx, o, bins.kmirror, cfg, addr, shape, &row); err != nil {
		return row, err
	}
	if pt.groups > 0 && o.syncSamples > 0 {
		o.logf("  group sync delay, %d samples", o.syncSamples)
		if err := scaleSyncDelay(ctx, o, scl, sadm, tadm, km, shape, &row); err != nil {
			return row, fmt.Errorf("group sync delay: %w", err)
		}
		o.logf("    p50 %s, p99 %s, %d never", quantile(row.sync, 0.5), quantile(row.sync, 0.99), row.never)
	}
	return row, nil
}

// offsets are end or committed offsets by topic and partition.
type offsets map[string]map[int32]int64

func (o offsets) set(topic string, p int32, at int64) {
	if o[topic] == nil {
		o[topic] = map[int32]int64{}
	}
	o[topic][p] = at
}

// loadScale creates the topics of a shape on the source, writes
// scaleRecords records into each partition and commits the groups at the
// partitions' ends; it returns the ends.
func loadScale(ctx context.Context, cl *kgo.Client, adm *kadm.Client, shape scaleShape) (offsets, error) {
	ctx, cancel := context.WithTimeout(ctx, scaleLoadWithin)
	defer cancel()
	byCount := map[int][]string{}
	for t, n := range shape.topics {
		byCount[n] = append(byCount[n], t)
	}
	for n, topics := range byCount {
		resp, err := adm.CreateTopics(ctx, int32(n), 1, nil, topics...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("create %d topics of %d partitions: %w", len(topics), n, err)
		}
	}
	var recs []*kgo.Record
	value := bytes.Repeat([]byte("x"), scaleValue)
	for t, n := range shape.topics {
		for p := range n {
			for range scaleRecords {
				recs = append(recs, &kgo.Record{Topic: t, Partition: int32(p), Value: value})
			}
		}
	}
	if err := produceTo(ctx, cl, recs); err != nil {
		return nil, fmt.Errorf("load the source: %w", err)
	}
	ends := offsets{}
	for _, r := range recs {
		ends.set(r.Topic, r.Partition, max(ends[r.Topic][r.Partition], r.Offset+1))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for group, tps := range shape.groups {
		g.Go(func() error {
			if err := commitAt(gctx, adm, group, tps, ends); err != nil {
				return fmt.Errorf("commit group %s on the source: %w", group, err)
			}
			return nil
		})
	}
	return ends, g.Wait()
}

// commitAt commits a group's partitions at the offsets of at, for a group
// with no members, as a consumer that stopped leaves it.
func commitAt(ctx context.Context, adm *kadm.Client, group string, tps []topicPartition, at offsets) error {
	var commit kadm.Offsets
	for _, tp := range tps {
		commit.Add(kadm.Offset{Topic: tp.topic, Partition: tp.partition, At: at[tp.topic][tp.partition], LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, group, commit)
	if err == nil {
		err = resp.Error()
	}
	return err
}

// writeScaleConfig writes kmirror's configuration of the scale mode: one
// flow copying the topics under their own names and syncing the groups'
// offsets every second, with the extra keys of -set.
func writeScaleConfig(path, source, target string, o options) error {
	return writeConfig(path, source, target, scaleTopicName+".*", o, fmt.Sprintf(`    groupsPattern: %q
    checkpointConnector:
      config:
        sync.group.offsets.enabled: "true"
        sync.group.offsets.interval.seconds: %d
        emit.checkpoints.interval.seconds: %d
        refresh.groups.interval.seconds: 10
`, scaleGroupName+".*", int(syncInterval.Seconds()), int(syncInterval.Seconds())))
}

// logValue is the value of key in a logfmt line, "" if none.
func logValue(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// waitScaleCopied waits until the target's end offsets reach the source's
// on every partition. With kmirror's default settings (no transactions)
// that is every record copied; in exactly-once mode markers take offsets
// too, and the groups' sync, waited for next, tells that the records are.
func waitScaleCopied(ctx context.Context, tadm *kadm.Client, km *proc, ends offsets) error {
	total := 0
	topics := make([]string, 0, len(ends))
	for t, ps := range ends {
		topics = append(topics, t)
		total += len(ps)
	}
	copied := 0
	w := wait{what: "copy of every partition", within: scaleCopyWithin, every: scalePoll, quit: km.exitErr,
		progress: func() string {
			return fmt.Sprintf("%d of %d partitions at the source's end offsets on the target", copied, total)
		}}
	return w.until(ctx, func(ctx context.Context) (bool, error) {
		got, err := tadm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return false, err
		}
		copied = 0
		got.Each(func(l kadm.ListedOffset) {
			if end, ok := ends[l.Topic][l.Partition]; ok && l.Err == nil && l.Offset >= end {
				copied++
			}
		})
		return copied == total, nil
	})
}

// waitGroupsSynced waits until every group of the shape holds, on the
// target, the offsets it committed on the source.
func waitGroupsSynced(ctx context.Context, tadm *kadm.Client, km *proc, shape scaleShape, at offsets) error {
	pending := map[string]bool{}
	for g := range shape.groups {
		pending[g] = true
	}
	w := wait{what: "offsets of every group on the target", within: scaleCopyWithin, every: scalePoll, quit: km.exitErr,
		progress: func() string {
			return fmt.Sprintf("%d of %d groups synced", len(shape.groups)-len(pending), len(shape.groups))
		}}
	return w.until(ctx, func(ctx context.Context) (bool, error) {
		groups := make([]string, 0, len(pending))
		for g := range pending {
			groups = append(groups, g)
		}
		var first error
		for g, r := range tadm.FetchManyOffsets(ctx, groups...) {
			switch {
			case r.Err != nil:
				first = r.Err
			case holds(r.Fetched, shape.groups[g], at):
				delete(pending, g)
			}
		}
		return len(pending) == 0, first
	})
}

// holds tells whether fetched offsets are at on every partition of tps.
func holds(fetched kadm.OffsetResponses, tps []topicPartition, at offsets) bool {
	for _, tp := range tps {
		o, ok := fetched.Lookup(tp.topic, tp.partition)
		if !ok || o.Err != nil || o.At != at[tp.topic][tp.partition] {
			return false
		}
	}
	return true
}
