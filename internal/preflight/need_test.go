package preflight

import (
	"slices"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/policy"
)

// What each setting adds to, or takes from, a flow's needs.
func TestDerive(t *testing.T) {
	base := func() *config.Flow {
		repl, err := policy.NewReplication("default", ".", true)
		if err != nil {
			t.Fatal(err)
		}
		return &config.Flow{Source: "a", Target: "b", Settings: config.Settings{
			Topics: policy.MustCompile("orders"), Groups: policy.MustCompile("billing"), Replication: repl,
			OffsetSyncsLocation: "target", TopicCreation: true, SyncTopicConfigs: true, SyncTopicACLs: true,
			EmitCheckpoints: true, EmitHeartbeats: true, SyncGroupOffsets: true, SyncGroupOffsetsInterval: time.Second,
		}}
	}
	tests := []struct {
		name      string
		change    func(*config.Flow)
		have, not []string // "cluster resource operation"
	}{
		{"every feature", func(*config.Flow) {}, []string{
			"a topic:orders Read", "a topic:orders DescribeConfigs", "a group:billing Describe", "a cluster Describe",
			"b topic:a.orders Create", "b topic:a.orders Write", "b topic:a.orders Alter", "b topic:a.orders Read", "b topic:a.orders AlterConfigs",
			"b group:billing Read", "b cluster Alter", "b cluster IdempotentWrite",
			"b topic:kmirror-progress.a.internal Read", "b topic:mm2-offset-syncs.a.internal Write", "b topic:a.checkpoints.internal Create", "b topic:heartbeats Write",
		}, []string{"a topic:mm2-offset-syncs.b.internal Write", "a cluster IdempotentWrite"}},
		{"offset syncs on the source", func(f *config.Flow) { f.OffsetSyncsLocation = "source" },
			[]string{"a topic:mm2-offset-syncs.b.internal Create", "a topic:mm2-offset-syncs.b.internal Write", "a topic:mm2-offset-syncs.b.internal Read", "a cluster IdempotentWrite"},
			[]string{"b topic:mm2-offset-syncs.a.internal Write"}},
		{"the seed's switches", func(f *config.Flow) {
			f.TopicCreation, f.SyncTopicConfigs, f.SyncTopicACLs = false, false, false
		}, []string{"a topic:orders DescribeConfigs", "b topic:a.orders Write"},
			[]string{"b topic:a.orders Create", "b topic:a.orders Alter", "b topic:a.orders AlterConfigs", "b cluster Alter"}},
		{"no group sync, no checkpoints", func(f *config.Flow) { f.SyncGroupOffsets, f.EmitCheckpoints = false, false },
			nil, []string{"a group:billing Describe", "b group:billing Read", "b topic:a.orders Read", "b topic:a.checkpoints.internal Create"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			tt.change(f)
			var got []string
			for _, n := range Merge(Derive(f, PatternScope(f))) {
				if !n.Optional {
					got = append(got, n.Cluster+" "+n.Resource.String()+" "+n.Operation)
				}
			}
			for _, want := range tt.have {
				if !slices.Contains(got, want) {
					t.Errorf("no %q in %q", want, got)
				}
			}
			for _, unwanted := range tt.not {
				if slices.Contains(got, unwanted) {
					t.Errorf("%q needed", unwanted)
				}
			}
		})
	}
}

// TestDeriveHandBack checks what --hand-back adds: MM2's Connect offsets
// topic of the configuration's layout, the offset syncs read and written,
// the workers' group described; with offset-syncs.topic.location unset,
// the source's offset-syncs topic too, where MM2 reads them by default.
func TestDeriveHandBack(t *testing.T) {
	repl, err := policy.NewReplication("default", ".", true)
	if err != nil {
		t.Fatal(err)
	}
	f := &config.Flow{Source: "a", Target: "b", Settings: config.Settings{Topics: policy.MustCompile("orders"), Replication: repl,
		OffsetSyncsLocation: "target", EmitCheckpoints: true}}
	for _, c := range []struct {
		format config.Format
		topic  string
	}{{config.FormatProperties, "mm2-offsets.a.internal"}, {config.FormatStrimzi, "mirrormaker2-cluster-offsets"}} {
		t.Run(string(c.format), func(t *testing.T) {
			cfg := &config.Config{Format: c.format, Clusters: []*config.Cluster{{Alias: "a"}, {Alias: "b"}}, Flows: []*config.Flow{f}}
			var got []string
			for _, n := range Merge(Derive(f, PatternScope(f).WithHandBack(true, cfg, f))) {
				got = append(got, n.Cluster+" "+n.Resource.String()+" "+n.Operation)
			}
			for _, want := range []string{"b topic:" + c.topic + " Create", "b topic:" + c.topic + " Write", "b topic:" + c.topic + " Read",
				"b topic:mm2-offset-syncs.a.internal Read", "b topic:mm2-offset-syncs.a.internal Write", "b topic:a.checkpoints.internal Write", "b group:kmirror.a.b Describe",
				"a topic:mm2-offset-syncs.b.internal Write", "a topic:mm2-offset-syncs.b.internal Create"} {
				if !slices.Contains(got, want) {
					t.Errorf("no %q in %q", want, got)
				}
			}
			set := *f
			set.OffsetSyncsLocationSet = true
			if slices.ContainsFunc(Merge(Derive(&set, PatternScope(&set).WithHandBack(true, cfg, &set))), func(n Need) bool { return n.Cluster == "a" && n.Operation == OpWrite }) {
				t.Errorf("with %s=target set, hand-back writes nothing on the source", config.KeyOffsetSyncsLocation)
			}
			without := Merge(Derive(f, PatternScope(f).WithHandBack(false, cfg, f)))
			if slices.ContainsFunc(without, func(n Need) bool { return n.Resource.Name == c.topic }) {
				t.Errorf("%s needed without --hand-back", c.topic)
			}
		})
	}
}
