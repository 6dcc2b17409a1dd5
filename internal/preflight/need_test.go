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
