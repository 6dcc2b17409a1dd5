package status

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/policy"
	"github.com/kmirror/kmirror/internal/progress"
)

// States of a group partition.
const (
	StateInSync      = "in-sync"      // the target commit is the translation
	StatePending     = "pending"      // translated, not yet committed on the target
	StateNotMirrored = "not-mirrored" // the committed offset is not copied yet
	StateExpired     = "expired"      // below what the offset map covers
	StateTargetAhead = "target-ahead" // the target commit is past the translation
)

// groups computes the state and verdict of every selected group. lagOf
// holds the lag in seconds of each selected source topic.
func (c *Collector) groups(ctx context.Context, f *config.Flow, src, tgt *kadm.Client, view progress.View, lagOf map[string]float64) ([]Group, error) {
	names, err := discover.SelectGroups(ctx, src, f.Source, policy.Filter{Include: f.Groups, Exclude: f.GroupsExclude})
	if err != nil {
		return []Group{}, err
	}
	if len(names) == 0 {
		return []Group{}, nil
	}
	srcOffsets := src.FetchManyOffsets(ctx, names...)
	tgtOffsets := tgt.FetchManyOffsets(ctx, names...)
	srcDesc, err := cluster.DescribeGroups(ctx, src, names...)
	if err != nil {
		return []Group{}, fmt.Errorf("describe groups on %q: %w", f.Source, err)
	}
	tgtDesc, err := cluster.DescribeGroups(ctx, tgt, names...)
	if err != nil {
		return []Group{}, fmt.Errorf("describe groups on %q: %w", f.Target, err)
	}
	// MM2's checkpoints, read at the first offset in a range MM2 copied.
	var prior checkpoint.Checkpoints
	readPrior := func() checkpoint.Checkpoints {
		if prior == nil {
			prior = c.readCheckpoints(ctx, f)
		}
		return prior
	}
	out := make([]Group, 0, len(names))
	for _, name := range names {
		g := Group{Group: name, Reasons: []string{}, Partitions: []GroupPartition{}}
		if d, ok := srcDesc[name]; ok && d.Err == nil {
			g.ActiveOnSource = d.Members
		}
		if d, ok := tgtDesc[name]; ok && d.Err == nil {
			g.ActiveOnTarget = d.Members
		}
		resp, ok := srcOffsets[name]
		if !ok || resp.Err != nil {
			g.Verdict = VerdictNotReady
			g.Reasons = append(g.Reasons, fmt.Sprintf("cannot fetch its committed offsets on %s: %v", f.Source, resp.Err))
			out = append(out, g)
			continue
		}
		var tgtFetched kadm.OffsetResponses
		if tr, ok := tgtOffsets[name]; ok && tr.Err == nil {
			tgtFetched = tr.Fetched
		}
		for _, o := range resp.Fetched.Sorted() {
			if _, selected := lagOf[o.Topic]; o.Err != nil || o.At < 0 || !selected {
				continue // only offsets of mirrored topics count
			}
			gp := GroupPartition{Topic: o.Topic, TargetTopic: f.Replication.RemoteTopic(f.Source, o.Topic), Partition: o.Partition, Source: o.At}
			if t, ok := tgtFetched.Lookup(gp.TargetTopic, o.Partition); ok && t.Err == nil && t.At >= 0 {
				gp.Target = &t.At
			}
			tr, ok, err := checkpoint.Translate(ctx, view, f, readPrior, name, progress.Partition{Topic: o.Topic, Partition: o.Partition}, o.At)
			if err != nil {
				return out, fmt.Errorf("read the progress of %s: %w", f.Name(), err)
			}
			off := tr.Offset
			switch {
			case !ok || tr.Result == offsetmap.NotYetMirrored:
				gp.State = StateNotMirrored
			case tr.Result == offsetmap.Expired:
				gp.State = StateExpired
			default:
				gp.Translated = &off
				gp.Translation = TranslationExact
				if tr.MM2 {
					gp.Translation = TranslationMM2
				}
				switch {
				case gp.Target == nil || *gp.Target < off:
					gp.State = StatePending
				case *gp.Target > off:
					gp.State = StateTargetAhead
				default:
					gp.State = StateInSync
				}
			}
			g.Partitions = append(g.Partitions, gp)
		}
		judge(&g, lagOf, c.opts.MaxLag)
		out = append(out, g)
	}
	return out, nil
}

// readCheckpoints reads flow f's checkpoints topic, where MirrorMaker 2's
// checkpoints are after kmirror took over from it; none when it cannot.
func (c *Collector) readCheckpoints(ctx context.Context, f *config.Flow) checkpoint.Checkpoints {
	topic := f.Replication.CheckpointsTopic(f.Source)
	prior, err := checkpoint.ReadCheckpoints(ctx, cluster.Options(c.cfg.Cluster(f.Target), c.log), topic)
	if err != nil {
		c.log.Warn("cannot read the checkpoints; translating MirrorMaker 2's range without them", "topic", topic, "err", err)
		return checkpoint.Checkpoints{}
	}
	return prior
}

// judge gives a group its verdict and the reasons that hold it back, in
// words an operator can act on.
func judge(g *Group, lagOf map[string]float64, maxLag time.Duration) {
	switch {
	case g.ActiveOnTarget > 0 && g.ActiveOnSource > 0:
		g.Verdict = VerdictNotReady
		g.Reasons = append(g.Reasons, fmt.Sprintf("consumers are active on both clusters (%d on the source, %d on the target): records would be processed twice; stop the source consumers", g.ActiveOnSource, g.ActiveOnTarget))
		return
	case g.ActiveOnTarget > 0:
		g.Verdict = VerdictSwitched
		return
	}
	if g.ActiveOnSource > 0 {
		g.Reasons = append(g.Reasons, fmt.Sprintf("%d consumers are still active on the source: stop them, then wait for their last offsets to be synced", g.ActiveOnSource))
	}
	if len(g.Partitions) == 0 {
		g.Reasons = append(g.Reasons, "no committed offsets on a mirrored topic")
	}
	var lagging []string
	for _, p := range g.Partitions {
		where := fmt.Sprintf("%s[%d]", p.Topic, p.Partition)
		switch p.State {
		case StateNotMirrored:
			g.Reasons = append(g.Reasons, fmt.Sprintf("%s: committed offset %d is not mirrored yet", where, p.Source))
		case StateExpired:
			g.Reasons = append(g.Reasons, fmt.Sprintf("%s: committed offset %d is older than what the mirror copied (deleted by retention before it was copied)", where, p.Source))
		case StatePending:
			got := "nothing"
			if p.Target != nil {
				got = fmt.Sprint(*p.Target)
			}
			g.Reasons = append(g.Reasons, fmt.Sprintf("%s: translated to %d, the target has %s committed: waiting for the next offset sync", where, *p.Translated, got))
		case StateTargetAhead:
			g.Reasons = append(g.Reasons, fmt.Sprintf("%s: the target commit %d is ahead of the translation %d: the consumers would skip %d records", where, *p.Target, *p.Translated, *p.Target-*p.Translated))
		}
		if lag := lagOf[p.Topic]; lag > maxLag.Seconds() && !slices.Contains(lagging, p.Topic) {
			lagging = append(lagging, p.Topic)
			g.Reasons = append(g.Reasons, fmt.Sprintf("%s: replication lag %.1fs is above %s", p.Topic, lag, maxLag))
		}
	}
	g.Verdict = VerdictReady
	if len(g.Reasons) > 0 {
		g.Verdict = VerdictNotReady
	}
}
