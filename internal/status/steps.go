package status

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/journal"
)

// steps sets where each topic and group of out stands in the migration,
// from the flow's journal and what out shows of the clusters, and lists
// the topics and groups whose migration the journal tells of although
// the flow no longer selects them (a topic done and removed from the
// allow-list). Such a topic keeps what was copied: copiedOf's figure from
// its stored progress, else the largest "copied" its journal recorded. A
// journal that cannot be read leaves the steps out: the rest of the report
// stands. A read cut short by ctx is no unreadable journal and is not
// logged: whoever ended ctx (a worker stopping, or failing at start) says
// why. out keeps what its steps came from, for Record.
func (c *Collector) steps(ctx context.Context, f *config.Flow, out *Flow, selected []discover.Topic, copiedOf func(topics []string) map[string]int64) {
	story, err := c.story(ctx, f)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("the migration's journal cannot be read; status shows no steps", "topic", f.JournalTopic(), "err", err)
		}
		return
	}
	now := journal.Now{Selected: map[string]bool{}, Groups: map[string]journal.GroupNow{}}
	for _, t := range selected {
		now.Selected[t.Source] = true
	}
	for _, g := range out.Groups {
		now.Groups[g.Group] = journal.GroupNow{Topics: groupTopics(g), Ready: g.Verdict == VerdictReady, OnTarget: g.ActiveOnTarget > 0}
	}
	out.basis = &stepsBasis{flow: f, story: story, now: now, topics: slices.Clone(out.Topics), groups: slices.Clone(out.Groups)}
	out.basis.apply(out, copiedOf)
}

// stepsBasis is what a flow's steps are made of: its journal as read, and
// what its report showed of the clusters before the steps were added.
type stepsBasis struct {
	flow  *config.Flow
	story *journal.Story
	now   journal.Now
	// topics and groups are the report's before its steps.
	topics []Topic
	groups []Group
	// copied is copiedOf's answer for the topics the flow no longer
	// selects, asked once.
	copied map[string]int64
}

// apply sets out's topics and groups to the basis' with their steps (see
// steps); copiedOf is asked at the first call only (Record passes none).
func (b *stepsBasis) apply(out *Flow, copiedOf func(topics []string) map[string]int64) {
	story, f := b.story, b.flow
	out.Topics, out.Groups = slices.Clone(b.topics), slices.Clone(b.groups)
	topics, groups := journal.Phases(story, b.now)

	for i, t := range out.Topics {
		if st, ok := topics[t.Topic]; ok {
			out.Topics[i].Step = step(st, story.Timeline(journal.TopicSubject, t.Topic))
			delete(topics, t.Topic)
		}
	}
	left := sortedKeys(topics)
	if b.copied == nil && copiedOf != nil {
		b.copied = copiedOf(left)
	}
	for _, name := range left {
		n, ok := b.copied[name]
		if !ok {
			n = journalCopied(story, name)
		}
		out.Topics = append(out.Topics, Topic{Topic: name, Target: f.Replication.RemoteTopic(f.Source, name), Copied: n,
			Partitions: []Partition{}, Step: step(topics[name], story.Timeline(journal.TopicSubject, name))})
	}
	for i, g := range out.Groups {
		if st, ok := groups[g.Group]; ok {
			out.Groups[i].Step = step(st, story.Timeline(journal.GroupSubject, g.Group))
			delete(groups, g.Group)
			// A group that switched stays switched while its consumers
			// are stopped on the target: its target commits are its own
			// (ahead of any translation), not a reason against starting
			// them there again.
			if st.Phase.Switched() && g.ActiveOnSource == 0 && g.Verdict == VerdictNotReady {
				out.Groups[i].Verdict, out.Groups[i].Reasons = VerdictSwitched, []string{}
			}
		}
	}
	for _, name := range sortedKeys(groups) {
		st := groups[name]
		g := Group{Group: name, Verdict: VerdictNotReady, Reasons: []string{"the flow selects none of its topics now"},
			Partitions: []GroupPartition{}, Step: step(st, story.Timeline(journal.GroupSubject, name))}
		if st.Phase.Switched() {
			g.Verdict, g.Reasons = VerdictSwitched, []string{}
		}
		out.Groups = append(out.Groups, g)
	}
}

// Record writes to each flow's journal the steps r shows and the journal
// lacks (observed), as by (journal.By), and adds them to r's steps as if
// read back: a running worker's refresh calls it after Collect, before it
// hands r out. A flow whose report lists errors, or whose journal could
// not be read, records nothing.
func (c *Collector) Record(ctx context.Context, r *Report, by string) {
	for i := range r.Flows {
		out := &r.Flows[i]
		b := out.basis
		// Once recorded, the report no longer needs its basis: reports
		// kept (the worker's history) do not hold the story and a
		// second copy of their topics and groups.
		out.basis = nil
		if b == nil || len(out.Errors) > 0 {
			continue
		}
		// To the millisecond, as the journal keeps times: a step shows the
		// same time before and after it is read back.
		before := &Flow{Name: out.Name, Topics: b.topics, Groups: b.groups}
		events := observed(b.story, before, b.now.Selected, time.Now().UTC().Truncate(time.Millisecond), by)
		if len(events) == 0 {
			continue
		}
		c.record(ctx, b.flow, b.story, events)
		b.apply(out, nil)
	}
}

// record writes the steps a running worker saw to the flow's journal and
// adds them to story. A journal that cannot be written is a warning (once
// until it can be again): the copy goes on, and the steps are tried again
// at the next refresh.
func (c *Collector) record(ctx context.Context, f *config.Flow, story *journal.Story, events []journal.Event) {
	if len(events) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, RecordTimeout)
	err := journal.Record(rctx, f, c.clients[f.Target], events...)
	cancel()
	c.jmu.Lock()
	failing := c.recordFails[f.Name()]
	c.recordFails[f.Name()] = err != nil
	c.jmu.Unlock()
	switch {
	case err != nil && !failing && ctx.Err() == nil:
		c.log.Warn("the migration's journal cannot be written; status shows the steps it saw until it can", "topic", f.JournalTopic(), "err", err)
	case err == nil && failing:
		c.log.Info("the migration's journal is written again", "topic", f.JournalTopic())
	}
	for _, e := range events {
		story.Add(e)
	}
}

// RecordTimeout bounds a running worker's write to the journal: a target
// that does not take it holds its status refresh back no longer.
const RecordTimeout = 10 * time.Second

// story reads the flow's journal through a follower kept for the
// collector's life, so that a running worker's refreshes read only what
// is new; records that are no journal events are logged once.
func (c *Collector) story(ctx context.Context, f *config.Flow) (*journal.Story, error) {
	c.jmu.Lock()
	defer c.jmu.Unlock()
	fl, ok := c.journals[f.Name()]
	if !ok {
		var err error
		if fl, err = journal.Follow(f, cluster.Options(c.cfg.Cluster(f.Target), c.log)); err != nil {
			return nil, fmt.Errorf("follow %q: %w", f.JournalTopic(), err)
		}
		c.journals[f.Name()] = fl
	}
	story, problems, err := fl.Story(ctx)
	for _, p := range problems {
		c.log.Warn("skipped a record of the migration's journal that is not a journal event", "err", p)
	}
	return story, err
}

// journalCopied is the largest count of copied records the journal
// recorded of a topic (its caught-up and removed steps): what a topic whose
// progress can no longer be read is known to have had copied.
func journalCopied(story *journal.Story, topic string) int64 {
	var n int64
	for _, e := range story.Timeline(journal.TopicSubject, topic) {
		n = max(n, e.Counts["copied"])
	}
	return n
}

func step(st journal.Standing, timeline []journal.Event) *Step {
	s := &Step{Phase: string(st.Phase), By: st.By, Timeline: make([]StepEvent, len(timeline))}
	for i, e := range timeline {
		s.Timeline[i] = StepEvent{Event: string(e.Kind), Time: e.Time, By: e.By, Verdict: e.Verdict, Reasons: e.Reasons, Counts: e.Counts, Topics: e.Topics}
	}
	if !st.Since.IsZero() {
		since := st.Since
		s.Since = &since
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
