package testbed

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/mm2"
)

// MM2Left is what a MirrorMaker 2 left on the target for one partition: it
// copied the first Copied source records, one for one, writing an offset
// sync for every SyncEvery-th, and committed the position Committed in its
// Connect offsets topic (-1: none, as when it was killed before its first
// offset commit).
type MM2Left struct {
	Copied, Committed, SyncEvery int64
	// SyncsFrom drops the syncs below it, as compaction does.
	SyncsFrom int64
}

// MM2Flow is the flow of a dedicated-mode MM2 with the identity policy:
// the aliases of its clusters, and where it wrote its offset syncs.
type MM2Flow struct {
	Source, Target string
	// SyncsOnSource is offset-syncs.topic.location=source, MM2's default.
	SyncsOnSource bool
	// OffsetsTopic is its Connect offsets topic; empty is dedicated mode's.
	OffsetsTopic string
}

// LeaveMM2 writes what MM2 would have left after copying topic: on the
// target the copies and its committed positions, and its offset syncs
// where f says. The target topic must exist.
func LeaveMM2(t testing.TB, src, tgt *Brokers, f MM2Flow, topic string, parts map[int32]MM2Left) {
	t.Helper()
	var copies, state, syncRecs []*kgo.Record
	syncs, syncsAt := "mm2-offset-syncs."+f.Source+".internal", tgt
	if f.SyncsOnSource {
		syncs, syncsAt = "mm2-offset-syncs."+f.Target+".internal", src
	}
	offsets := f.OffsetsTopic
	if offsets == "" {
		offsets = mm2.OffsetsTopics(f.Source)[0]
	}
	for p, l := range parts {
		for i, r := range src.Read(t, topic, p)[:l.Copied] {
			copies = append(copies, &kgo.Record{Topic: topic, Partition: p, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
			if int64(i)%l.SyncEvery == 0 && int64(i) >= l.SyncsFrom {
				k, v := mm2.EncodeSync(mm2.Partition{Topic: topic, Partition: p}, mm2.Sync{Upstream: int64(i), Downstream: int64(i)})
				syncRecs = append(syncRecs, &kgo.Record{Topic: syncs, Key: k, Value: v})
			}
		}
		if l.Committed >= 0 {
			state = append(state, &kgo.Record{Topic: offsets,
				Key:   fmt.Appendf(nil, `["MirrorSourceConnector",{"cluster":%q,"partition":%d,"topic":%q}]`, f.Source, p, topic),
				Value: fmt.Appendf(nil, `{"offset":%d}`, l.Committed-1)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, at := range []struct {
		c     *Brokers
		topic string
	}{{syncsAt, syncs}, {tgt, offsets}} {
		created, err := kadm.NewClient(at.c.Client(t)).CreateTopics(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, at.topic)
		if err == nil {
			err = created.Error()
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Fatalf("create MM2's topic %s: %v", at.topic, err)
		}
	}
	tgt.Produce(t, copies)
	tgt.Produce(t, state)
	syncsAt.Produce(t, syncRecs)
}
