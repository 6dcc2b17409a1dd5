package checkpoint

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// identical translates every committed offset to itself (Translate names
// the target topic after the flow's policy).
type identical struct{}

func (identical) Copied(context.Context, progress.Partition) (progress.Copied, bool, error) {
	return progress.Copied{}, false, nil
}

func (identical) Translate(_ context.Context, p progress.Partition, g int64) (progress.Translation, bool, error) {
	return progress.Translation{Target: p.Topic, Offset: g, Result: offsetmap.Exact}, true, nil
}

// A checkpoint that cannot be encoded (a group id longer than a STRING
// holds) is skipped with a warning naming it, once; the other groups'
// checkpoints of the round are written.
func TestRoundSkipsACheckpointThatCannotBeEncoded(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, "")
	f := cfg.Flows[0]
	topic := f.Replication.CheckpointsTopic(f.Source)
	if err := tgt.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srcAdm := kadm.NewClient(src.Client(t))
	long := "app-" + strings.Repeat("g", 40000)
	for _, g := range []string{long, "app-short"} {
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: "app-a", Partition: 0, At: 7, LeaderEpoch: -1})
		resp, err := srcAdm.CommitOffsets(ctx, g, o)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %.10s…: %v", g, err)
		}
	}
	var logs bytes.Buffer
	s := NewSyncer(f, src.Client(t), tgt.Client(t), identical{}, slog.New(slog.NewTextHandler(&logs, nil)), Options{})
	for range 2 {
		if _, err := s.Round(ctx); err != nil {
			t.Fatal(err)
		}
	}

	warning := `level=WARN msg="checkpoint skipped" component=checkpoint flow=source->target group=` + long +
		` topic=source.app-a partition=0 err="checkpoint key: string too long: 40004 bytes, at most 32767"`
	if got := strings.Count(logs.String(), "checkpoint skipped"); got != 1 || !strings.Contains(logs.String(), warning) {
		t.Errorf("%d warnings, want 1 naming the group, topic and partition:\n%.500s", got, logs.String())
	}
	recs := tgt.Read(t, topic, 0)
	if len(recs) != 1 {
		t.Fatalf("%d checkpoints written, want 1", len(recs))
	}
	want := Record{Group: "app-short", Topic: "source.app-a", Partition: 0, Upstream: 7, Downstream: 7}
	if got, err := Decode(recs[0].Key, recs[0].Value); err != nil || got != want {
		t.Errorf("checkpoint %+v, %v; want %+v", got, err, want)
	}
}
