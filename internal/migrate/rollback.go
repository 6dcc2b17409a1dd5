package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/policy"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// RollbackResult is the verdict on rolling a group's consumers back from the target
// to the source: its committed target offsets translated back, exactly,
// through each flow's offset map.
type RollbackResult struct {
	Group string `json:"group"`
	// Ready says the group can start on the source: every partition it
	// committed on a mirrored target topic translates back, and no member
	// runs on either cluster. Committed says the translations were
	// committed to the group on the sources.
	Ready     bool           `json:"ready"`
	Committed bool           `json:"committed"`
	Reasons   []string       `json:"reasons"`
	Flows     []FlowRollback `json:"flows"`
}

// FlowRollback is the group's rollback in one flow.
type FlowRollback struct {
	Flow           string              `json:"flow"`
	ActiveOnSource int                 `json:"activeOnSource"`
	ActiveOnTarget int                 `json:"activeOnTarget"`
	Partitions     []RollbackPartition `json:"partitions"`
}

// RollbackPartition is one partition the group committed on the target.
type RollbackPartition struct {
	Topic       string `json:"topic"` // on the source
	TargetTopic string `json:"targetTopic"`
	Partition   int32  `json:"partition"`
	// Target is the offset committed on the target; Source its
	// translation back (null when there is none); Previous what the group
	// had committed on the source before (null when nothing).
	Target   int64  `json:"target"`
	Source   *int64 `json:"source"`
	Previous *int64 `json:"previous"`
}

// Rollback judges whether group can go back to the sources of cfg's flows
// and, when it can and commit is set, commits the translated offsets to
// the group on each source. A group may be rolled back only while it has
// no members on either cluster: the source commit must not race a
// consumer, and a consumer still running on the target would read on
// past the translation.
func Rollback(ctx context.Context, cfg *config.Config, group string, commit bool, log *slog.Logger) (RollbackResult, error) {
	b := RollbackResult{Group: group, Reasons: []string{}, Flows: []FlowRollback{}}
	type todo struct {
		f       *config.Flow
		src     *kadm.Client
		offsets kadm.Offsets
	}
	var commits []todo
	for _, f := range cfg.Flows {
		if cfg.LeavesTarget(f) {
			continue // the way back of a flow: the group goes back through the flow itself
		}
		if v, err := (policy.Filter{Include: f.Groups, Exclude: f.GroupsExclude}).Select(group); err != nil || !v.Selected {
			continue
		}
		fr, err := rollbackFlow(ctx, cfg, f, group, log)
		if err != nil {
			return b, fmt.Errorf("flow %s: %w", f.Name(), err)
		}
		defer fr.src.Close()
		b.Flows = append(b.Flows, fr.back)
		b.Reasons = append(b.Reasons, fr.reasons...)
		if len(fr.offsets) > 0 {
			commits = append(commits, todo{f, kadm.NewClient(fr.src), fr.offsets})
		}
	}
	if len(b.Flows) == 0 {
		b.Reasons = append(b.Reasons, fmt.Sprintf("no flow follows group %q: groupsPattern/groups.exclude leave it out", group))
	}
	if len(commits) == 0 && len(b.Reasons) == 0 {
		b.Reasons = append(b.Reasons, "the group has no committed offsets on a mirrored target topic: nothing to roll back")
	}
	b.Ready = len(b.Reasons) == 0
	if !b.Ready || !commit {
		return b, nil
	}
	for _, c := range commits {
		resp, err := c.src.CommitOffsets(ctx, group, c.offsets)
		if err == nil {
			err = resp.Error()
		}
		switch {
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress),
			errors.Is(err, kerr.StaleMemberEpoch):
			b.Ready = false
			b.Reasons = append(b.Reasons, fmt.Sprintf("a consumer joined the group on %s meanwhile, and the broker refused the commit: stop it and roll back again", c.f.Source))
			return b, nil
		case errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed):
			return b, fmt.Errorf("commit the offsets of group %q on %q: %w: rolling back needs Read on the group and its topics there ('kmirror preflight --rollback' checks it)", group, c.f.Source, err)
		case err != nil:
			return b, fmt.Errorf("commit the offsets of group %q on %q: %w", group, c.f.Source, err)
		}
	}
	b.Committed = true
	return b, nil
}

// flowRead is a group's rollback through one flow.
type flowRead struct {
	back FlowRollback
	// reasons are what holds the rollback back in the flow.
	reasons []string
	// offsets are the translations to commit on the flow's source, with
	// src, a client of it, which the caller closes.
	offsets kadm.Offsets
	src     *kgo.Client
}

// members counts the members of group on cluster alias.
func members(ctx context.Context, adm *kadm.Client, alias, group string) (int, error) {
	d, err := cluster.DescribeGroups(ctx, adm, group)
	if err == nil {
		err = d[group].Err
	}
	if err != nil {
		return 0, fmt.Errorf("describe group %q on %q: %w", group, alias, err)
	}
	return d[group].Members, nil
}

// rollbackFlow translates group's committed target offsets of flow f back
// to its source. On an error it closes what it opened.
func rollbackFlow(ctx context.Context, cfg *config.Config, f *config.Flow, group string, log *slog.Logger) (fr flowRead, err error) {
	fr.back = FlowRollback{Flow: f.Name(), Partitions: []RollbackPartition{}}
	fb := &fr.back
	srcCl, err := kgo.NewClient(cluster.Options(cfg.Cluster(f.Source), log)...)
	if err != nil {
		return fr, err
	}
	defer func() {
		if err != nil {
			srcCl.Close() // the caller has a client with a rollback only
		}
	}()
	tgtCl, err := kgo.NewClient(cluster.Options(cfg.Cluster(f.Target), log)...)
	if err != nil {
		return fr, err
	}
	defer tgtCl.Close()
	src, tgt := kadm.NewClient(srcCl), kadm.NewClient(tgtCl)

	if fb.ActiveOnSource, err = members(ctx, src, f.Source, group); err != nil {
		return fr, err
	}
	if fb.ActiveOnTarget, err = members(ctx, tgt, f.Target, group); err != nil {
		return fr, err
	}
	if fb.ActiveOnTarget > 0 {
		fr.reasons = append(fr.reasons, fmt.Sprintf("flow %s: %d consumers are active on the target: stop them, so that their last commit is the one rolled back", f.Name(), fb.ActiveOnTarget))
	}
	if fb.ActiveOnSource > 0 {
		fr.reasons = append(fr.reasons, fmt.Sprintf("flow %s: %d consumers are active on the source: records would be processed twice; stop them", f.Name(), fb.ActiveOnSource))
	}

	sel, err := discover.Topics(ctx, srcCl, f)
	if err != nil {
		return fr, err
	}
	sourceOf := map[string]string{}
	for _, t := range sel.Topics {
		sourceOf[t.Target] = t.Source
	}
	onTarget, err := tgt.FetchOffsets(ctx, group)
	if err != nil {
		return fr, fmt.Errorf("fetch the offsets of group %q on %q: %w", group, f.Target, err)
	}
	onSource, err := src.FetchOffsets(ctx, group)
	if err != nil {
		return fr, fmt.Errorf("fetch the offsets of group %q on %q: %w", group, f.Source, err)
	}
	// With the same names copied the other way, the records written on
	// the target are on the source too, through the pair's map.
	paired := cfg.SameNamePair(f)
	reader, err := progress.NewReader(f, paired, cfg.Cluster(f.Source), cfg.Cluster(f.Target), log)
	if err != nil {
		return fr, err
	}
	defer reader.Close()
	snap, err := reader.Own(ctx)
	if err != nil {
		return fr, err
	}
	back, err := reader.Pair(ctx)
	if err != nil {
		return fr, fmt.Errorf("read the progress of %s: %w", paired.Name(), err)
	}
	// A commit past what is recorded as copied waits for the flow that
	// copies it (this one, or the flow back): without a worker there,
	// waiting is in vain, and the reason says so instead.
	copier, copierAdm := f, tgt
	if paired != nil {
		copier, copierAdm = paired, src
	}
	workers, err := workgroup.Describe(ctx, copierAdm, workgroup.Name(copier.Source, copier.Target))
	if err != nil {
		return fr, err
	}
	stopped := len(workers) == 0
	noted := false
	waitFor := func(reason string) {
		if !stopped {
			fr.reasons = append(fr.reasons, reason)
		} else if !noted {
			fr.reasons = append(fr.reasons, noWorker(copier.Source, copier.Target))
			noted = true
		}
	}
	offsets := kadm.Offsets{}
	for _, o := range onTarget.Sorted() {
		topic, mirrored := sourceOf[o.Topic]
		if o.Err != nil || o.At < 0 || !mirrored {
			continue // only offsets of mirrored topics go back
		}
		bp := RollbackPartition{Topic: topic, TargetTopic: o.Topic, Partition: o.Partition, Target: o.At}
		if prev, ok := onSource.Lookup(topic, o.Partition); ok && prev.Err == nil && prev.At >= 0 {
			bp.Previous = &prev.At
		}
		where := fmt.Sprintf("flow %s: %s[%d]", f.Name(), o.Topic, o.Partition)
		saved, ok := snap[progress.Partition{Topic: topic, Partition: o.Partition}]
		if !ok {
			fr.reasons = append(fr.reasons, fmt.Sprintf("%s: the target commit %d cannot be translated: nothing of the partition is recorded as copied", where, o.At))
			fb.Partitions = append(fb.Partitions, bp)
			continue
		}
		s, res := progress.BackWithPair(saved.Map, back[progress.Partition{Topic: o.Topic, Partition: o.Partition}].Map, o.At)
		switch res {
		case offsetmap.Exact:
			bp.Source = &s
			offsets.Add(kadm.Offset{Topic: topic, Partition: o.Partition, At: s, LeaderEpoch: -1, Metadata: o.Metadata})
		case offsetmap.NotYetMirrored:
			if back != nil {
				waitFor(fmt.Sprintf("%s: the target commit %d is not translated yet: the flow back has not copied the target's records up to it (wait a second and retry)", where, o.At))
				break
			}
			if stopped {
				fr.reasons = append(fr.reasons, fmt.Sprintf("%s: the target commit %d lies past the last copy recorded (%d): the group read records that are not on the source (written to the target), or copied but not saved when the worker stopped",
					where, o.At, saved.Map.End().Target))
				waitFor("")
				break
			}
			fr.reasons = append(fr.reasons, fmt.Sprintf("%s: the target commit %d lies past the last copy recorded (%d): the group read records that are not on the source "+
				"(written to the target: copy them back with the flow back, %s->%s, under the same names), or the copy's progress is not saved yet (wait a second and retry)",
				where, o.At, saved.Map.End().Target, f.Target, f.Source))
		case offsetmap.Expired:
			why := "the source's retention deleted records the group has not read yet"
			if len(saved.MM2) > 0 {
				why = "the offset lies where MirrorMaker 2 copied before kmirror took over, which has no exact map, or the source's retention deleted records the group has not read yet"
			}
			fr.reasons = append(fr.reasons, fmt.Sprintf("%s: the target commit %d cannot be translated back: %s", where, o.At, why))
		}
		fb.Partitions = append(fb.Partitions, bp)
	}
	fr.offsets, fr.src = offsets, srcCl
	return fr, nil
}
