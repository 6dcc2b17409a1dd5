package mirror

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/progress"
)

// retention decides what follows when the source's retention overtook a
// partition (its next offset is no longer on the source), and counts it.
type retention struct {
	src     *kadm.Client
	cfg     *config.Flow
	log     *slog.Logger
	metrics *Metrics
	// overtaken counts partitions whose next offset the source's retention
	// deleted before it was copied; lost counts the source offsets lost.
	overtaken, lost atomic.Int64
}

// outOfRange handles a partition whose next offset the source no longer
// holds. Retention overtook the mirror when the log start moved past it:
// with retention.overtaken.policy=skip the copy resumes at the log start
// and the gap is recorded, with stop (the default) the partition stops.
// Either way it is logged as an error and counted. An offset past the
// source's end (a truncated log) always stops the partition.
func (r *retention) outOfRange(ctx context.Context, p *partition) (int64, bool) {
	next := p.end().Source
	starts, err := r.src.ListStartOffsets(ctx, p.key.Topic)
	start, ok := starts.Lookup(p.key.Topic, p.key.Partition)
	if err != nil || !ok || start.Err != nil {
		r.log.Warn("offset out of range; cannot read the source log start, retrying", "topic", p.key.Topic, "partition", p.key.Partition, "err", errors.Join(err, start.Err))
		return next, true
	}
	log := r.log.With("topic", p.key.Topic, "partition", p.key.Partition, "next_offset", next, "source_log_start", start.Offset)
	if start.Offset <= next {
		log.Error(progress.ReasonTruncated)
		p.stop(progress.ReasonTruncated)
		return 0, false
	}
	r.overtaken.Add(1)
	if r.cfg.OvertakenPolicy == "skip" {
		g := p.skipTo(start.Offset)
		r.lost.Add(g.To - g.From)
		r.metrics.gaps.WithLabelValues(r.cfg.Source, r.cfg.Target, p.key.Topic).Inc()
		r.metrics.lost.WithLabelValues(r.cfg.Source, r.cfg.Target, p.key.Topic).Add(float64(g.To - g.From))
		log.Error("the source deleted records before they were copied; skipping them (retention.overtaken.policy=skip)", "lost_from", g.From, "lost_to", g.To)
		return start.Offset, true
	}
	reason := progress.ReasonOvertaken(next, start.Offset)
	log.Error(reason)
	p.stop(reason)
	return 0, false
}
