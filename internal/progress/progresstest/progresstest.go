// Package progresstest sets up a flow's persisted progress for tests: a
// saved state that copying alone does not produce (an altered copy, a map
// that says more than was copied).
package progresstest

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/progress"
)

// Write persists what flow f knows about one source partition, as a
// running flow does (progress.Store), with clients of its own. The flow
// must not be running for the partition, or the two would overwrite each
// other; the topics must exist (a flow creates them when it first
// starts).
func Write(ctx context.Context, f *config.Flow, src, tgt *config.Cluster, p progress.Partition, sv progress.Saved) error {
	syncsAt := tgt
	if at, _ := f.OffsetSyncs(); at == src.Alias {
		syncsAt = src
	}
	syncs, err := kgo.NewClient(cluster.Options(syncsAt, nil)...)
	if err != nil {
		return err
	}
	defer syncs.Close()
	target, err := kgo.NewClient(cluster.Options(tgt, nil)...)
	if err != nil {
		return err
	}
	defer target.Close()
	m := sv.Mark
	m.Start, m.End = sv.Map.Start(), sv.Map.End()
	_, err = progress.NewStore(f, syncs, target).Flush(ctx, "", []progress.Pending{{Partition: p, Segments: sv.Map.Segments(), Mark: &m}})
	if err != nil {
		return fmt.Errorf("write the progress of %s[%d]: %w", p.Topic, p.Partition, err)
	}
	return nil
}
