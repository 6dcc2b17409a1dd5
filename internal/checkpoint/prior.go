package checkpoint

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
)

// Checkpoints are the last checkpoint of each group and target partition
// that a checkpoints topic holds: MirrorMaker 2's too, after kmirror took
// over from it.
type Checkpoints map[emitKey]Record

// ReadCheckpoints reads a checkpoints topic with a client made of opts.
func ReadCheckpoints(ctx context.Context, opts []kgo.Opt, topic string) (Checkpoints, error) {
	out := Checkpoints{}
	err := cluster.ScanTopic(ctx, opts, topic, func(r *kgo.Record) {
		if c, err := Decode(r.Key, r.Value); err == nil {
			out[emitKey{c.Group, c.Topic, c.Partition}] = c
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Improve applies MM2's own rule to a translation of group's committed
// offset g inside the range MM2 copied (tr.MM2): a checkpoint MM2 emitted
// for that very offset, from an offset sync compaction has since removed,
// may translate it further, or at all; MM2 never lowers a checkpoint.
// Other translations are returned as they are.
func (c Checkpoints) Improve(group string, partition int32, g int64, tr progress.Translation) progress.Translation {
	if !tr.MM2 {
		return tr
	}
	p, ok := c[emitKey{group, tr.Target, partition}]
	if ok && p.Upstream == g && (tr.Result == offsetmap.Expired || p.Downstream > tr.Offset) {
		tr.Offset, tr.Result = p.Downstream, offsetmap.Exact
	}
	return tr
}
