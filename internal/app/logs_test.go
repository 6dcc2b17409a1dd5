package app

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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
	a := New(cfg, slog.New(h))
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
