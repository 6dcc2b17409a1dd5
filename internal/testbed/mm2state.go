package testbed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/kstruct"
	"github.com/kmirror/kmirror/internal/mm2"
)

// MM2Left is what a MirrorMaker 2 left on the target for one partition: it
// copied the first Copied source records, one for one, writing an offset
// sync for every SyncEvery-th, and committed the position Committed in its
// Connect offsets topic (-1: none, as when it was killed before its first
// offset commit).
type MM2Left struct {
	Copied, Committed, SyncEvery int64
}

// LeaveMM2 writes on the target what a dedicated-mode MM2 replicating topic
// from the cluster alias source, with offset-syncs.topic.location=target
// and the identity policy, would have left there: the copies, its offset
// syncs and its committed positions. The target topic must exist.
func LeaveMM2(t testing.TB, src, tgt *Brokers, source, topic string, parts map[int32]MM2Left) {
	t.Helper()
	var copies, state []*kgo.Record
	syncs := "mm2-offset-syncs." + source + ".internal"
	offsets := mm2.OffsetsTopics(source)[0]
	for p, l := range parts {
		for i, r := range src.Read(t, topic, p)[:l.Copied] {
			copies = append(copies, &kgo.Record{Topic: topic, Partition: p, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
			if int64(i)%l.SyncEvery == 0 {
				k, v := kstruct.Writer{}, kstruct.Writer{}
				k.String(topic)
				k.Int32(p)
				v.Int64(int64(i))
				v.Int64(int64(i))
				state = append(state, &kgo.Record{Topic: syncs, Key: k.B, Value: v.B})
			}
		}
		if l.Committed >= 0 {
			state = append(state, &kgo.Record{Topic: offsets,
				Key:   fmt.Appendf(nil, `["MirrorSourceConnector",{"cluster":%q,"partition":%d,"topic":%q}]`, source, p, topic),
				Value: fmt.Appendf(nil, `{"offset":%d}`, l.Committed-1)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	created, err := kadm.NewClient(tgt.Client(t)).CreateTopics(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, syncs, offsets)
	if err == nil {
		err = created.Error()
	}
	if err != nil {
		t.Fatalf("create MM2's topics: %v", err)
	}
	tgt.Produce(t, copies)
	tgt.Produce(t, state)
}
