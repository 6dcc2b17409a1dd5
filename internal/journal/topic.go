package journal

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// Record writes events of flow f to its journal topic on the target
// (f.JournalTopic, created compacted when missing) through tgt, a client
// of the target, and waits until they are acknowledged.
func Record(ctx context.Context, f *config.Flow, tgt *kgo.Client, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	topic := f.JournalTopic()
	if err := cluster.EnsureInternalTopic(ctx, kadm.NewClient(tgt), f.InternalTopic(config.InternalJournal)); err != nil {
		return err
	}
	recs := make([]*kgo.Record, 0, len(events))
	for _, e := range events {
		e.Flow = f.Name()
		k, v, err := Encode(e)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: k, Value: v, Timestamp: e.Time})
	}
	if err := tgt.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write the journal %q: %w", topic, err)
	}
	return nil
}

// Read reads the story of flow f from its journal topic on the target,
// with a client made of opts (the target's). Records of other flows from
// the same source are left out; records that are no journal events
// (another tool's, a newer version's) are left out and returned as
// problems, each naming its offset. A journal not written yet is an empty
// story.
func Read(ctx context.Context, f *config.Flow, opts []kgo.Opt) (*Story, []error, error) {
	fl, err := Follow(f, opts)
	if err != nil {
		return nil, nil, err
	}
	defer fl.Close()
	return fl.Story(ctx)
}

// Follower keeps a flow's story up to date for a long-lived reader (the
// status of a running worker): each Story reads only what was written
// since the last.
type Follower struct {
	flow     string
	tail     *cluster.Tail
	story    *Story
	problems []error
}

// Follow makes a Follower of flow f's journal, with a client made of opts
// (the target's); nothing is read before Story.
func Follow(f *config.Flow, opts []kgo.Opt) (*Follower, error) {
	fl := &Follower{flow: f.Name(), story: NewStory()}
	tail, err := cluster.NewTail(opts, f.JournalTopic(), fl.take)
	if err != nil {
		return nil, err
	}
	fl.tail = tail
	return fl, nil
}

func (fl *Follower) take(r *kgo.Record) {
	if r.Value == nil {
		return // a step forgotten
	}
	e, err := Decode(r.Key, r.Value)
	if err != nil {
		fl.problems = append(fl.problems, fmt.Errorf("%s[%d] offset %d: %w", r.Topic, r.Partition, r.Offset, err))
		return
	}
	if e.Flow == fl.flow {
		fl.story.Add(e)
	}
}

// Story reads what was written since the last call and returns the whole
// story (a copy), with the records skipped since the last call.
func (fl *Follower) Story(ctx context.Context) (*Story, []error, error) {
	if err := fl.tail.CatchUp(ctx); err != nil {
		return nil, nil, err
	}
	problems := fl.problems
	fl.problems = nil
	return fl.story.clone(), problems, nil
}

// Close closes the Follower's client.
func (fl *Follower) Close() { fl.tail.Close() }

// Note records events on the journals of the flows they name (Event.Flow,
// a flow of cfg), for a command that took a migration step: verify,
// migrate drain, ready, rollback. It is best effort: the step's own result
// stands whether or not its record could be written, so a journal that
// cannot be written (no Write on the topic, the target unreachable) is a
// warning naming the topic.
func Note(ctx context.Context, cfg *config.Config, log *slog.Logger, events ...Event) {
	byFlow := map[string][]Event{}
	for _, e := range events {
		byFlow[e.Flow] = append(byFlow[e.Flow], e)
	}
	for _, f := range cfg.Flows {
		es := byFlow[f.Name()]
		if len(es) == 0 {
			continue
		}
		err := func() error {
			cl, err := kgo.NewClient(cluster.Options(cfg.Cluster(f.Target), log)...)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(ctx, noteTimeout)
			defer cancel()
			return Record(ctx, f, cl, es...)
		}()
		if err != nil {
			log.Warn("the migration's journal was not written; the step's result stands", "topic", f.JournalTopic(), "err", err)
		}
	}
}

// noteTimeout bounds Note: a command's result is not held back long by
// its journal.
const noteTimeout = 15 * time.Second

// By names what established an event: the command and the host it ran on.
func By(what string) string {
	if host, err := os.Hostname(); err == nil && host != "" {
		return what + " on " + host
	}
	return what
}
