package checkpoint

import (
	"context"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/progress"
)

// Translate is the one rule that turns group's committed offset g of
// source partition p of flow f into the target offset the group resumes
// at, for the checkpoint syncer and for status alike: view translates it
// (exactly, or as MM2 does below kmirror's start); the target topic is the
// one f's replication policy names; and inside a range MirrorMaker 2
// copied, MM2's own earlier checkpoints may translate it further (prior,
// asked only then, reads them). ok is false for a partition the view does
// not mirror.
func Translate(ctx context.Context, view progress.View, f *config.Flow, prior func() Checkpoints, group string, p progress.Partition, g int64) (tr progress.Translation, ok bool, err error) {
	tr, ok, err = view.Translate(ctx, p, g)
	if err != nil || !ok {
		return tr, ok, err
	}
	tr.Target = f.Replication.RemoteTopic(f.Source, p.Topic)
	if tr.MM2 {
		tr = prior().Improve(group, p.Partition, g, tr)
	}
	return tr, true, nil
}
