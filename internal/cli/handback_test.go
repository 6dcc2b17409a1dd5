package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/app"
	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// TestHandBack copies a topic, then hands the flow back to MirrorMaker 2:
// refused while the worker runs, nothing written by a dry run, and then
// exactly MM2's positions (the progress's ends, read back as MM2 reads
// them) and the sync of each last copy.
func TestHandBack(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app1-t1", 2, nil); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 51 {
		recs = append(recs, &kgo.Record{Topic: "app1-t1", Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)})
	}
	src.Produce(t, recs)
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "app1-t1", Partition: 0, At: 20, LeaderEpoch: -1})
	if _, err := kadm.NewClient(src.Client(t)).CommitOffsets(context.Background(), "app1-g", o); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kmirror.yaml")
	testbed.WriteFiles(t, dir, map[string][]byte{"kmirror.yaml": []byte(testbed.NativeConfig(src, tgt, `    topicsPattern: "app1-.*"
    groupsPattern: "app1-.*"
`))})
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Flows[0]
	ctx := context.Background()
	want := map[mm2.Partition]int64{{Topic: "app1-t1", Partition: 0}: 26, {Topic: "app1-t1", Partition: 1}: 25}

	a := app.New(cfg, slog.New(slog.DiscardHandler), app.Options{})
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	testbed.WaitFor(t, 30*time.Second, "the copy's progress at the source's end", func() bool {
		next, err := progress.ReadNext(ctx, f, cfg.Cluster(f.Target), nil)
		return err == nil && next[progress.Partition{Topic: "app1-t1", Partition: 0}] == 26 && next[progress.Partition{Topic: "app1-t1", Partition: 1}] == 25
	})
	code, out, errOut := execute(t, ctx, "migrate", "hand-back", "-c", path)
	if code != ExitFailure || !strings.Contains(out, `REFUSED`) || !strings.Contains(out, `1 kmirror workers still run in its workers' group "kmirror.source.target" on "target"`) {
		t.Errorf("hand-back with a worker running: exit %d\n%s%s", code, out, errOut)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

	const offsetsTopic = "mirrormaker2-cluster-offsets" // a Strimzi resource's spec: Strimzi's layout
	exists := func() bool {
		td, err := kadm.NewClient(tgt.Client(t)).ListTopics(ctx, offsetsTopic)
		if err != nil {
			t.Fatal(err)
		}
		return td.Has(offsetsTopic)
	}
	code, out, errOut = execute(t, ctx, "migrate", "hand-back", "-c", path, "--dry-run")
	if code != ExitOK || !strings.Contains(out, "app1-t1[0]: MM2 resumes at 26; last sync 25 → 25") || !strings.Contains(out, "dry run: nothing written") {
		t.Errorf("--dry-run: exit %d\n%s%s", code, out, errOut)
	}
	if exists() {
		t.Errorf("--dry-run created %s", offsetsTopic)
	}

	code, out, errOut = execute(t, ctx, "migrate", "hand-back", "-c", path, "--json")
	if code != ExitOK {
		t.Fatalf("hand-back: exit %d\n%s%s", code, out, errOut)
	}
	var got struct {
		DryRun, Done bool
		Reasons      []string
		Flows        []struct {
			Flow, OffsetsTopic, Connector, SyncsCluster, SyncsTopic, CheckpointsTopic string
			MM2SyncsCluster, MM2SyncsTopic                                            string
			CreateOffsetsTopic                                                        bool
			Checkpoints                                                               int
			Partitions                                                                []struct {
				Topic, TargetTopic string
				Partition          int32
				Resume             int64
				LastSync           *struct{ Upstream, Downstream int64 }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !got.Done || got.DryRun || len(got.Reasons) != 0 || len(got.Flows) != 1 {
		t.Fatalf("JSON: %s", out)
	}
	fl := got.Flows[0]
	if fl.Flow != "source->target" || fl.OffsetsTopic != offsetsTopic || fl.Connector != "source->target.MirrorSourceConnector" || !fl.CreateOffsetsTopic ||
		fl.SyncsCluster != "target" || fl.SyncsTopic != "mm2-offset-syncs.source.internal" ||
		fl.MM2SyncsCluster != "source" || fl.MM2SyncsTopic != "mm2-offset-syncs.target.internal" || fl.CheckpointsTopic != "source.checkpoints.internal" || fl.Checkpoints != 1 || len(fl.Partitions) != 2 {
		t.Errorf("JSON flow: %s", out)
	}
	for _, p := range fl.Partitions {
		next := want[mm2.Partition{Topic: p.Topic, Partition: p.Partition}]
		if p.TargetTopic != "source.app1-t1" || p.Resume != next || p.LastSync == nil || p.LastSync.Upstream != next-1 || p.LastSync.Downstream != next-1 {
			t.Errorf("JSON partition %+v, want resume %d", p, next)
		}
	}

	// What MM2 reads back: its positions, 25 partitions partitioned by
	// key as Connect's worker does, and the syncs.
	var offsets []*kgo.Record
	if err := cluster.ScanTopic(ctx, []kgo.Opt{kgo.SeedBrokers(tgt.Addr)}, offsetsTopic, func(r *kgo.Record) { offsets = append(offsets, r) }); err != nil {
		t.Fatal(err)
	}
	pos, err := mm2.Positions(offsets, "source")
	if err != nil || len(offsets) != 2 || fmt.Sprint(pos) != fmt.Sprint(want) {
		t.Errorf("MM2's positions %v (%d records, err %v), want %v", pos, len(offsets), err, want)
	}
	for _, r := range offsets {
		if p := (kgo.StickyKeyPartitioner(nil)).ForTopic(offsetsTopic).Partition(r, mm2.OffsetsTopicPartitions); int32(p) != r.Partition {
			t.Errorf("%s in partition %d, Connect's worker writes it to %d", r.Key, r.Partition, p)
		}
	}
	// The syncs: on the target, kmirror's location, and on the source,
	// where MM2 reads them with offset-syncs.topic.location unset.
	for _, at := range []struct{ addr, topic string }{{tgt.Addr, fl.SyncsTopic}, {src.Addr, fl.MM2SyncsTopic}} {
		last := map[mm2.Partition]mm2.Sync{}
		if err := cluster.ScanTopic(ctx, []kgo.Opt{kgo.SeedBrokers(at.addr)}, at.topic, func(r *kgo.Record) {
			if p, s, ok, _ := mm2.DecodeSync(r.Key, r.Value); ok {
				last[p] = s
			}
		}); err != nil {
			t.Fatal(err)
		}
		for p, next := range want {
			if s := last[p]; s.Upstream != next-1 || s.Downstream != next-1 {
				t.Errorf("%s: last sync of %v: %+v, want %d → %d", at.topic, p, s, next-1, next-1)
			}
		}
	}
	code, out, errOut = execute(t, ctx, "migrate", "report", "-c", path)
	if code != ExitOK || !strings.Contains(out, "handed-back") {
		t.Errorf("report after hand-back: exit %d\n%s%s", code, out, errOut)
	}
	// An older kmirror's segment in the offset-syncs topic: MM2 cannot
	// read it, and hand-back says how to remove it.
	k, v := progress.EncodeSegment("app1-t1", 0, offsetmap.Segment{Source: 0, Target: 0, Count: 26})
	tgt.Produce(t, []*kgo.Record{{Topic: fl.SyncsTopic, Key: k, Value: v}})
	code, out, errOut = execute(t, ctx, "migrate", "hand-back", "-c", path)
	if code != ExitFailure || !strings.Contains(out, `still holds 1 offset-map records (or their tombstones) of an older kmirror`) ||
		!strings.Contains(out, "kafka-topics.sh --bootstrap-server TARGET --delete --topic mm2-offset-syncs.source.internal") {
		t.Errorf("hand-back with an old segment: exit %d\n%s%s", code, out, errOut)
	}
}
