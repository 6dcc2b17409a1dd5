package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// HandBack is what handing the flows back to MirrorMaker 2 wrote (or, in a
// dry run, would write): per flow, MM2's source position of each partition
// kmirror copied, in the Connect offsets topic MM2 started on the same
// configuration reads, and an MM2-format offset sync of the last record
// copied, so that MM2 copies on from there without copying a record again.
type HandBack struct {
	// DryRun says nothing was written; Done that everything was.
	DryRun bool `json:"dryRun"`
	Done   bool `json:"done"`
	// Reasons say why the hand-back was refused; empty otherwise.
	Reasons []string       `json:"reasons"`
	Flows   []FlowHandBack `json:"flows"`
}

// FlowHandBack is the hand-back of one flow.
type FlowHandBack struct {
	Flow string `json:"flow"`
	// OffsetsTopic is the Connect offsets topic on the target, Connector
	// the connector name its keys begin with; CreateOffsetsTopic says it
	// was missing and is created (as Connect creates it: compacted, 25
	// partitions).
	OffsetsTopic       string `json:"offsetsTopic"`
	Connector          string `json:"connector"`
	CreateOffsetsTopic bool   `json:"createOffsetsTopic"`
	// SyncsCluster and SyncsTopic are where the offset syncs go.
	SyncsCluster string `json:"syncsCluster"`
	SyncsTopic   string `json:"syncsTopic"`
	// MM2SyncsCluster and MM2SyncsTopic are where they go too when the
	// configuration leaves offset-syncs.topic.location unset: MM2 then
	// reads them on the source, kmirror wrote them on the target.
	MM2SyncsCluster string `json:"mm2SyncsCluster,omitempty"`
	MM2SyncsTopic   string `json:"mm2SyncsTopic,omitempty"`
	// CheckpointsTopic is where one round of checkpoints went, "" when
	// the flow emits none; Checkpoints how many were written.
	CheckpointsTopic string                `json:"checkpointsTopic,omitempty"`
	Checkpoints      int                   `json:"checkpoints"`
	Partitions       []HandedBackPartition `json:"partitions"`
}

// HandedBackPartition is one source partition handed back.
type HandedBackPartition struct {
	Topic       string `json:"topic"` // on the source
	TargetTopic string `json:"targetTopic"`
	Partition   int32  `json:"partition"`
	// Resume is where MM2 resumes: the next source offset to copy. The
	// Connect offsets record holds Resume-1, the last offset copied.
	Resume int64 `json:"resume"`
	// LastSync is the offset sync of the last record copied: its source
	// offset (upstream) and the target offset of its copy (downstream);
	// null when the offset map holds no copied record (nothing but gaps).
	LastSync *Sync `json:"lastSync"`
}

// Sync is an MM2 offset sync, for the report.
type Sync struct {
	Upstream   int64 `json:"upstream"`
	Downstream int64 `json:"downstream"`
}

// handBackFlow is one flow's hand-back as it is prepared: the report and
// what to write.
type handBackFlow struct {
	f                      *config.Flow
	report                 FlowHandBack
	layout                 mm2.Layout
	snap                   progress.Snapshot
	offsets, syncs         []*kgo.Record
	src, tgt, syncsCluster *config.Cluster
	cfg                    *config.Config
}

// HandBackTo prepares handing every flow of cfg back to MirrorMaker 2 and,
// unless dryRun, writes it. It refuses, with its reasons, while a kmirror
// worker of a flow runs (both would copy), and while a flow's offset-syncs
// topic still holds an older kmirror's offset-map segments, which MM2
// cannot read.
func HandBackTo(ctx context.Context, cfg *config.Config, dryRun bool, log *slog.Logger) (HandBack, error) {
	hb := HandBack{DryRun: dryRun, Reasons: []string{}, Flows: []FlowHandBack{}}
	var flows []*handBackFlow
	for _, f := range cfg.Flows {
		fl, err := prepareHandBack(ctx, cfg, f, log, &hb.Reasons)
		if err != nil {
			return hb, fmt.Errorf("flow %s: %w", f.Name(), err)
		}
		flows = append(flows, fl)
		hb.Flows = append(hb.Flows, fl.report)
	}
	if len(hb.Reasons) > 0 || dryRun {
		return hb, nil
	}
	for i, fl := range flows {
		n, err := fl.write(ctx, log)
		if err != nil {
			return hb, fmt.Errorf("flow %s: %w", fl.f.Name(), err)
		}
		hb.Flows[i].Checkpoints = n
	}
	hb.Done = true
	return hb, nil
}

// prepareHandBack reads what flow f copied and works out the records that
// hand it back, appending to reasons what refuses the hand-back.
func prepareHandBack(ctx context.Context, cfg *config.Config, f *config.Flow, log *slog.Logger, reasons *[]string) (*handBackFlow, error) {
	src, tgt := cfg.Cluster(f.Source), cfg.Cluster(f.Target)
	syncsAt, syncsTopic := f.OffsetSyncs()
	fl := &handBackFlow{f: f, src: src, tgt: tgt, syncsCluster: cfg.Cluster(syncsAt), cfg: cfg,
		layout: mm2.LayoutOf(f.Source, f.Target, tgt.ConnectOffsetsTopic, cfg.Format != config.FormatProperties)}
	fl.report = FlowHandBack{Flow: f.Name(), OffsetsTopic: fl.layout.OffsetsTopic, Connector: fl.layout.Connector,
		SyncsCluster: syncsAt, SyncsTopic: syncsTopic, Partitions: []HandedBackPartition{}}
	if at := f.MM2OffsetSyncs(); len(at) > 1 {
		fl.report.MM2SyncsCluster, fl.report.MM2SyncsTopic = at[1].Cluster, at[1].Name
	}
	if f.EmitCheckpoints {
		fl.report.CheckpointsTopic = f.InternalTopic(config.InternalCheckpoints).Name
	}

	tgtCl, err := kgo.NewClient(cluster.Options(tgt, log)...)
	if err != nil {
		return nil, err
	}
	defer tgtCl.Close()
	adm := kadm.NewClient(tgtCl)
	group := workgroup.Name(f.Source, f.Target)
	workers, err := workgroup.Describe(ctx, adm, group)
	if err != nil {
		return nil, err
	}
	if len(workers) > 0 {
		names := make([]string, len(workers))
		for i, w := range workers {
			names[i] = fmt.Sprintf("%s (client %s, host %s)", w.ID, w.Client, w.Host)
		}
		*reasons = append(*reasons, fmt.Sprintf("flow %s: %d kmirror workers still run in its workers' group %q on %q: %s; stop them first: MM2 and kmirror must not copy at the same time",
			f.Name(), len(workers), group, f.Target, strings.Join(names, ", ")))
	}
	// MM2 fails on the key of any such record, a tombstone's too: the
	// topic is readable to it only once compaction removed them all.
	legacy := 0
	err = cluster.ScanTopic(ctx, cluster.Options(fl.syncsCluster, log), syncsTopic, func(r *kgo.Record) {
		if _, ok, _ := progress.DecodeSegmentKey(r.Key); ok {
			legacy++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read the offset syncs %q: %w", syncsTopic, err)
	}
	if legacy > 0 {
		*reasons = append(*reasons, fmt.Sprintf("flow %s: the offset-syncs topic %q on %q still holds %d offset-map records (or their tombstones) of an older kmirror, which MM2 cannot read (docs/internals.md, \"Upgrading\"): with every worker stopped, delete it (kafka-topics.sh --bootstrap-server TARGET --delete --topic %s) and hand back again",
			f.Name(), syncsTopic, syncsAt, legacy, syncsTopic))
	}

	topics, err := adm.ListTopics(ctx, fl.layout.OffsetsTopic)
	if err != nil {
		return nil, fmt.Errorf("look for the Connect offsets topic %q on %q: %w", fl.layout.OffsetsTopic, f.Target, err)
	}
	fl.report.CreateOffsetsTopic = !topics.Has(fl.layout.OffsetsTopic)

	if fl.snap, err = progress.Read(ctx, f, src, tgt, log); err != nil {
		return nil, err
	}
	keys := make([]progress.Partition, 0, len(fl.snap))
	for p, s := range fl.snap {
		if s.Map.End().Source > s.Map.Start() {
			keys = append(keys, p)
		}
	}
	slices.SortFunc(keys, func(a, b progress.Partition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for _, p := range keys {
		m := fl.snap[p].Map
		hp := HandedBackPartition{Topic: p.Topic, TargetTopic: f.Replication.RemoteTopic(f.Source, p.Topic), Partition: p.Partition, Resume: m.End().Source}
		k, v, err := fl.layout.Encode(f.Source, p, hp.Resume)
		if err != nil {
			return nil, fmt.Errorf("encode the position of %s[%d]: %w", p.Topic, p.Partition, err)
		}
		fl.offsets = append(fl.offsets, &kgo.Record{Topic: fl.layout.OffsetsTopic, Key: k, Value: v})
		if s, ok := lastCopy(m.Segments()); ok {
			hp.LastSync = &Sync{s.Upstream, s.Downstream}
			k, v := mm2.EncodeSync(p, s)
			fl.syncs = append(fl.syncs, &kgo.Record{Key: k, Value: v})
		}
		fl.report.Partitions = append(fl.report.Partitions, hp)
	}
	return fl, nil
}

// write writes the flow's hand-back: the Connect offsets topic (created
// when missing), the offset syncs, then one round of checkpoints when the
// flow emits them. It returns the checkpoints written.
func (fl *handBackFlow) write(ctx context.Context, log *slog.Logger) (int, error) {
	// Connect's worker partitions its offsets topic by key with Kafka's
	// murmur2, and reads a partition's position by the key's bytes: the
	// record must land where the worker would write it.
	tgtCl, err := kgo.NewClient(append(cluster.Options(fl.tgt, log), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
	if err != nil {
		return 0, err
	}
	defer tgtCl.Close()
	adm := kadm.NewClient(tgtCl)
	if fl.report.CreateOffsetsTopic {
		rf := fl.tgt.ConnectOffsetsReplication
		if rf == 0 {
			rf = -1
		}
		resp, err := adm.CreateTopic(ctx, mm2.OffsetsTopicPartitions, rf, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, fl.layout.OffsetsTopic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return 0, fmt.Errorf("create the Connect offsets topic %q on %q: %w", fl.layout.OffsetsTopic, fl.f.Target, err)
		}
	}
	if err := tgtCl.ProduceSync(ctx, fl.offsets...).FirstErr(); err != nil {
		return 0, fmt.Errorf("write MM2's positions to %q on %q: %w", fl.layout.OffsetsTopic, fl.f.Target, err)
	}
	for _, at := range fl.f.MM2OffsetSyncs() {
		if err := fl.writeSyncs(ctx, at, log); err != nil {
			return 0, err
		}
	}
	if !fl.f.EmitCheckpoints {
		return 0, nil
	}
	if err := cluster.EnsureInternalTopic(ctx, adm, fl.f.InternalTopic(config.InternalCheckpoints)); err != nil {
		return 0, err
	}
	srcCl, err := kgo.NewClient(cluster.Options(fl.src, log)...)
	if err != nil {
		return 0, err
	}
	defer srcCl.Close()
	// One round as a running worker's syncer does, checkpoints alone:
	// committing the groups on the target is for MM2, or kmirror, to do
	// when they run.
	f := *fl.f
	f.SyncGroupOffsets = false
	st, err := checkpoint.NewSyncer(&f, srcCl, tgtCl, savedView{fl.snap, fl.f}, log, checkpoint.Options{}).Round(ctx)
	if err != nil {
		return st.Checkpoints, fmt.Errorf("write checkpoints: %w", err)
	}
	return st.Checkpoints, nil
}

// writeSyncs writes the sync of each partition's last copy into the
// offset-syncs topic at, creating it when missing.
func (fl *handBackFlow) writeSyncs(ctx context.Context, at config.InternalTopic, log *slog.Logger) error {
	cl, err := kgo.NewClient(cluster.Options(fl.cfg.Cluster(at.Cluster), log)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cluster.EnsureInternalTopic(ctx, kadm.NewClient(cl), at); err != nil {
		return err
	}
	recs := make([]*kgo.Record, len(fl.syncs))
	for i, r := range fl.syncs {
		recs[i] = &kgo.Record{Topic: at.Name, Key: r.Key, Value: r.Value}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write the offset syncs to %q on %q: %w", at.Name, at.Cluster, err)
	}
	return nil
}

// lastCopy is the offset sync of the last record an offset map's segments
// say was copied.
func lastCopy(segs []offsetmap.Segment) (mm2.Sync, bool) {
	for i := len(segs) - 1; i >= 0; i-- {
		if s := segs[i]; s.Count > 0 {
			return mm2.Sync{Upstream: s.Source + s.Count - 1, Downstream: s.Target + s.Count - 1}, true
		}
	}
	return mm2.Sync{}, false
}

// savedView translates with a flow's saved state and names the target
// topics, for a checkpoint round outside the workers.
type savedView struct {
	snap progress.Snapshot
	f    *config.Flow
}

func (v savedView) Copied(ctx context.Context, p progress.Partition) (progress.Copied, bool, error) {
	return v.snap.Copied(ctx, p)
}

func (v savedView) Translate(ctx context.Context, p progress.Partition, g int64) (progress.Translation, bool, error) {
	tr, ok, err := v.snap.Translate(ctx, p, g)
	tr.Target = v.f.Replication.RemoteTopic(v.f.Source, p.Topic)
	return tr, ok, err
}

// Events are the hand-back's steps for the migration's journal, once it
// was written: each topic handed back, with its partitions counted.
func (hb HandBack) Events(at time.Time, by string) []journal.Event {
	if !hb.Done {
		return nil
	}
	var es []journal.Event
	for _, f := range hb.Flows {
		counts := map[string]int64{}
		var topics []string
		for _, p := range f.Partitions {
			if counts[p.Topic] == 0 {
				topics = append(topics, p.Topic)
			}
			counts[p.Topic]++
		}
		for _, t := range topics {
			es = append(es, journal.Event{Flow: f.Flow, Subject: journal.TopicSubject, Name: t, Kind: journal.HandedBack, Time: at, By: by,
				Counts: map[string]int64{"partitions": counts[t]}})
		}
	}
	return es
}
