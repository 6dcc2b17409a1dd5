package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
)

// records keeps the log records a logger writes.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs(as []slog.Attr) slog.Handler    { return &withAttrs{r, as} }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

type withAttrs struct {
	*records
	attrs []slog.Attr
}

func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{w.records, append(append([]slog.Attr(nil), w.attrs...), as...)}
}
func (w *withAttrs) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(w.attrs...)
	return w.records.Handle(ctx, rec)
}

// franz-go's own logs of the copy path's clients (source, target and
// producer) reach kmirror's logger, tagged with the component and the
// cluster, and at debug level only what franz-go logs at debug or info.
func TestClientLogsReachTheLogger(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	src.Produce(t, []*kgo.Record{{Topic: "app-a", Value: []byte("a")}})
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"`)
	h := &records{}
	a := New(cfg, slog.New(h), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	testbed.WaitFor(t, 30*time.Second, "the record copied", func() bool { return tgt.EndOffsets(t, "source.app-a")[0] == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// franz-go names the broker it talks to in its debug logs.
	seen := map[string]bool{}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		var component, cluster string
		broker := false
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "component":
				component = a.Value.String()
			case "cluster":
				cluster = a.Value.String()
			case "broker":
				broker = true
			}
			return true
		})
		if broker {
			seen[component+" "+cluster] = true
			if r.Level == slog.LevelInfo {
				t.Errorf("franz-go logged at info: %q", r.Message)
			}
		}
	}
	for _, want := range []string{"mirror source", "mirror target"} {
		if !seen[want] {
			t.Errorf("no franz-go log of the %s client; seen %v", want, seen)
		}
	}
}

// A run whose flow fails at start returns that failure, and what the
// failure cuts short logs nothing of its own: the status refresh that was
// reading the migration's journal says no "journal cannot be read …
// context canceled" beside the real cause. The target holds the journal
// read until the flow failed, and fails the flow's first topic creation
// once the journal is being read.
func TestFailedStartLogsOnlyTheCause(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"`)
	journalTopic := cfg.Flows[0].JournalTopic()
	reading, failed := make(chan struct{}), make(chan struct{})
	var readOnce sync.Once
	tgt.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		tgt.KeepControl()
		for _, rt := range req.(*kmsg.MetadataRequest).Topics {
			if rt.Topic != nil && *rt.Topic == journalTopic {
				readOnce.Do(func() { close(reading) })
				tgt.SleepControl(func() { <-failed })
			}
		}
		return nil, nil, false
	})
	tgt.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		tgt.KeepControl()
		tgt.SleepControl(func() { <-reading })
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, rt := range req.(*kmsg.CreateTopicsRequest).Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode = rt.Topic, kerr.PolicyViolation.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	h := &records{}
	a := New(cfg, slog.New(h), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := a.Run(ctx)
	close(failed)
	if err == nil || !errors.Is(err, kerr.PolicyViolation) {
		t.Fatalf("Run = %v, want the flow's POLICY_VIOLATION", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		text := r.Message
		r.Attrs(func(a slog.Attr) bool {
			text += " " + a.String()
			return true
		})
		if r.Level >= slog.LevelWarn || strings.Contains(text, "context canceled") {
			t.Errorf("logged beside the cause: %s %s", r.Level, text)
		}
	}
}
