package config

import (
	"fmt"
	"testing"

	"github.com/kmirror/kmirror/internal/policy"
)

// The internal topics a flow's workers create, with the key that sets
// each replication factor: what run creates and preflight checks.
func TestInternalTopics(t *testing.T) {
	tests := []struct {
		name string
		set  func(f *Flow)
		want []string
	}{
		{"defaults", func(*Flow) {}, []string{
			"b kmirror-progress.a.internal offset-syncs.topic.replication.factor=-1",
			"b kmirror-offset-map.a.internal offset-syncs.topic.replication.factor=-1",
			"b mm2-offset-syncs.a.internal offset-syncs.topic.replication.factor=-1",
			"b kmirror-journal.a.internal offset-syncs.topic.replication.factor=-1",
			"b a.checkpoints.internal checkpoints.topic.replication.factor=3",
			"b heartbeats heartbeats.topic.replication.factor=2",
		}},
		{"syncs on the source, nothing emitted", func(f *Flow) {
			f.OffsetSyncsLocation, f.EmitCheckpoints, f.EmitHeartbeats = "source", false, false
		}, []string{
			"b kmirror-progress.a.internal offset-syncs.topic.replication.factor=-1",
			"b kmirror-offset-map.a.internal offset-syncs.topic.replication.factor=-1",
			"a mm2-offset-syncs.b.internal offset-syncs.topic.replication.factor=-1",
			"b kmirror-journal.a.internal offset-syncs.topic.replication.factor=-1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Flow{Source: "a", Target: "b"}
			var err error
			if f.Replication, err = policy.NewReplication("default", ".", false); err != nil {
				t.Fatal(err)
			}
			f.OffsetSyncsLocation, f.EmitCheckpoints, f.EmitHeartbeats = "target", true, true
			f.OffsetSyncsReplicationFactor, f.CheckpointsReplicationFactor, f.HeartbeatsReplicationFactor = -1, 3, 2
			tt.set(f)
			var got []string
			for _, it := range f.InternalTopics() {
				got = append(got, fmt.Sprintf("%s %s %s=%d", it.Cluster, it.Name, it.ReplicationKey, it.ReplicationFactor))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
