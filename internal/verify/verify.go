package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// Defaults of Options.
const (
	DefaultMaxMismatches = 5
	DefaultWorkers       = 8
)

// Options say what to verify and how.
type Options struct {
	// Topics are source topic names; each must be selected by a flow.
	Topics []string
	// From, when not zero, starts each partition at the first source
	// offset whose timestamp is at or after it, instead of at the start of
	// the mirrored range.
	From time.Time
	// MaxMismatches is how many mismatches are listed per partition;
	// DefaultMaxMismatches when 0, none when negative.
	MaxMismatches int
	// Workers is how many partitions are compared at once;
	// DefaultWorkers when 0.
	Workers int
	// ConnectTimeout bounds the check of each cluster before the
	// comparison; 0 is cluster.DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// Run compares the requested topics of every flow that copies them. A
// topic no flow selects is a *NotSelectedError, found before connecting. An
// error means the comparison could not be made; differences are in the
// report.
func Run(ctx context.Context, cfg *config.Config, o Options, log *slog.Logger) (*Report, error) {
	if o.MaxMismatches == 0 {
		o.MaxMismatches = DefaultMaxMismatches
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	sel, err := selectTopics(cfg, o.Topics)
	if err != nil {
		return nil, err
	}
	r := &Report{Partitions: []Partition{}}
	for _, ft := range sel {
		parts, err := verifyFlow(ctx, cfg, ft, o, log)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", ft.flow.Name(), err)
		}
		r.Partitions = append(r.Partitions, parts...)
	}
	r.finish()
	return r, nil
}

// job is one partition to compare.
type job struct {
	p            *Partition
	srcID, tgtID [16]byte
	segs         []offsetmap.Segment
	// back is the map of the flow the other way under the same names, nil
	// without one.
	back *offsetmap.Map
	// source and target are the clusters' ids when the flow stamps
	// provenance headers.
	source, target []byte
	// readFrom is where the target is read from: the start of the target
	// range, or the target's log start when that is later.
	readFrom int64
}

func verifyFlow(ctx context.Context, cfg *config.Config, ft flowTopics, o Options, log *slog.Logger) ([]Partition, error) {
	f := ft.flow
	src, tgt := cfg.Cluster(f.Source), cfg.Cluster(f.Target)
	infos, err := cluster.CheckAll(ctx, []*config.Cluster{src, tgt}, cluster.Connect{Timeout: o.ConnectTimeout, Log: log})
	if err != nil {
		return nil, err
	}
	prog, err := progress.NewReader(f, cfg.SameNamePair(f), src, tgt, log)
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	jobs, done, err := plan(ctx, f, prog, src, tgt, ft.topics, o, log)
	if err != nil {
		return nil, err
	}
	if f.ProvenanceHeader {
		for i := range jobs {
			jobs[i].source, jobs[i].target = []byte(infos[0].ClusterID), []byte(infos[1].ClusterID)
		}
	}
	if paired := cfg.SameNamePair(f); paired != nil {
		// The pair keeps its map on this flow's source.
		stored, err := prog.Pair(ctx)
		if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("read the stored progress of %s: %w", paired.Name(), err)
		}
		for i := range jobs {
			if sp, ok := stored[progress.Partition{Topic: jobs[i].p.TargetTopic, Partition: jobs[i].p.Partition}]; ok {
				jobs[i].back = sp.Map
			} else {
				// Nothing copied back yet: every target record not
				// copied by this flow was written there.
				jobs[i].back = offsetmap.New(0, 0)
			}
		}
	}
	idle := max(2*f.Consumer.FetchMaxWait+500*time.Millisecond, time.Second)
	newReaders := func() (*reader, *reader, error) {
		s, err := newReader(src.Alias, f.Consumer.ReadCommitted, idle, append(cluster.Options(src, log), cluster.ConsumerOptions(f.Consumer)...))
		if err != nil {
			return nil, nil, err
		}
		// The target is read as its consumers will read it: committed
		// records only.
		t, err := newReader(tgt.Alias, true, idle, append(cluster.Options(tgt, log), cluster.ConsumerOptions(f.Consumer)...))
		if err != nil {
			s.close()
			return nil, nil, err
		}
		return s, t, nil
	}
	if err := compareAll(ctx, jobs, min(o.Workers, len(jobs)), o.MaxMismatches, newReaders); err != nil {
		return nil, err
	}
	for _, j := range jobs {
		done = append(done, *j.p)
	}
	return done, nil
}

// plan reads the flow's stored offset maps (through prog) and the logs'
// bounds, and returns the partitions to compare, and those that need no
// reading (not mirrored yet, recreated).
func plan(ctx context.Context, f *config.Flow, prog *progress.Reader, src, tgt *config.Cluster, topics []string, o Options, log *slog.Logger) ([]job, []Partition, error) {
	stored, err := prog.Own(ctx)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		// The flow never ran: the topics it stores its progress in
		// are not there yet.
		stored, err = progress.Snapshot{}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the stored progress: %w", err)
	}
	srcCl, err := kgo.NewClient(cluster.Options(src, log)...)
	if err != nil {
		return nil, nil, err
	}
	defer srcCl.Close()
	tgtCl, err := kgo.NewClient(cluster.Options(tgt, log)...)
	if err != nil {
		return nil, nil, err
	}
	defer tgtCl.Close()
	srcAdm, tgtAdm := kadm.NewClient(srcCl), kadm.NewClient(tgtCl)

	details, err := srcAdm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("describe topics on cluster %q: %w", src.Alias, err)
	}
	for _, t := range topics {
		if d, ok := details[t]; !ok || d.Err != nil {
			var cause error = errors.New("unknown topic")
			if ok {
				cause = d.Err
			}
			return nil, nil, fmt.Errorf("topic %q on source cluster %q: %w", t, src.Alias, cause)
		}
	}
	srcStarts, err := listed(srcAdm.ListStartOffsets(ctx, topics...))
	if err != nil {
		return nil, nil, fmt.Errorf("list start offsets on cluster %q: %w", src.Alias, err)
	}
	var fromOffsets kadm.ListedOffsets
	if !o.From.IsZero() {
		if fromOffsets, err = listed(srcAdm.ListOffsetsAfterMilli(ctx, o.From.UnixMilli(), topics...)); err != nil {
			return nil, nil, fmt.Errorf("list offsets after %s on cluster %q: %w", o.From.Format(time.RFC3339), src.Alias, err)
		}
	}
	targets := make([]string, len(topics))
	for i, t := range topics {
		targets[i] = f.Replication.RemoteTopic(f.Source, t)
	}
	// A target topic not created yet is fine while nothing is stored for
	// it; the errors are checked per partition.
	tgtDetails, err := tgtAdm.ListTopics(ctx, targets...)
	if err != nil {
		return nil, nil, fmt.Errorf("describe topics on cluster %q: %w", tgt.Alias, err)
	}
	tgtStarts, err := tgtAdm.ListStartOffsets(ctx, targets...)
	if err != nil && !errors.Is(err, kadm.ErrEmpty) {
		return nil, nil, fmt.Errorf("list start offsets on cluster %q: %w", tgt.Alias, err)
	}

	var jobs []job
	var done []Partition
	for i, t := range topics {
		d := details[t]
		for _, pd := range d.Partitions.Sorted() {
			p := &Partition{Flow: f.Name(), Topic: t, TargetTopic: targets[i], Partition: pd.Partition, Mismatches: []Mismatch{}}
			sp, ok := stored[progress.Partition{Topic: t, Partition: pd.Partition}]
			switch {
			case !ok:
				p.State = StateNotMirrored
			case sp.TopicID != d.ID:
				p.State = StateRecreated
			}
			if p.State != "" {
				done = append(done, *p)
				continue
			}
			p.State = StateCompared
			srcStart, ok := srcStarts.Lookup(t, pd.Partition)
			if !ok {
				return nil, nil, fmt.Errorf("no start offset for %s[%d] on cluster %q", t, pd.Partition, src.Alias)
			}
			tgtStart, ok := tgtStarts.Lookup(targets[i], pd.Partition)
			if !ok || tgtStart.Err != nil {
				return nil, nil, fmt.Errorf("start offset of %s[%d] on cluster %q: %w", targets[i], pd.Partition, tgt.Alias, errors.Join(tgtStart.Err, missingErr(ok)))
			}
			from := srcStart.Offset
			if fo, ok := fromOffsets.Lookup(t, pd.Partition); ok {
				from = max(from, fo.Offset)
			}
			p.Source, p.Target = mirroredRanges(sp.Map, from)
			jobs = append(jobs, job{p: p, srcID: d.ID, tgtID: tgtDetails[targets[i]].ID, segs: slices.Clone(sp.Map.Segments()),
				readFrom: min(max(p.Target.From, tgtStart.Offset), p.Target.To)})
		}
	}
	return jobs, done, nil
}

// mirroredRanges returns the source and target ranges the offset map m
// covers from source offset from on (the source's log start, or a later
// offset to start at).
func mirroredRanges(m *offsetmap.Map, from int64) (src, tgt Range) {
	end := m.End()
	from = min(max(m.Start(), from), end.Source)
	// from lies in the map's range: the translation is exact, the target
	// offset of the first copied record at or after it.
	tgtFrom, _ := m.Translate(from)
	return Range{From: from, To: end.Source}, Range{From: tgtFrom, To: end.Target}
}

// listed turns the per-partition errors of a listing into one error.
func listed(l kadm.ListedOffsets, err error) (kadm.ListedOffsets, error) {
	if err != nil {
		return nil, err
	}
	return l, l.Error()
}

func missingErr(ok bool) error {
	if ok {
		return nil
	}
	return errors.New("unknown topic or partition")
}

// compareAll compares the jobs with at most workers partitions at once;
// each worker reads with one client per cluster.
func compareAll(ctx context.Context, jobs []job, workers, maxMismatches int, newReaders func() (src, tgt *reader, err error)) error {
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	next := 0
	take := func() *job {
		mu.Lock()
		defer mu.Unlock()
		if next == len(jobs) {
			return nil
		}
		next++
		return &jobs[next-1]
	}
	for range workers {
		g.Go(func() error {
			srcR, tgtR, err := newReaders()
			if err != nil {
				return err
			}
			defer srcR.close()
			defer tgtR.close()
			for j := take(); j != nil; j = take() {
				w := &walk{segs: j.segs, max: maxMismatches, p: j.p, source: j.source, target: j.target}
				if j.back != nil {
					w.back, w.backEnd = &walk{segs: j.back.Segments()}, j.back.End()
				}
				s := srcR.open(j.p.Topic, j.srcID, j.p.Partition, j.p.Source.From, j.p.Source.To)
				t := tgtR.open(j.p.TargetTopic, j.tgtID, j.p.Partition, j.readFrom, j.p.Target.To)
				err := w.run(gctx, s, t)
				s.finish()
				t.finish()
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}
