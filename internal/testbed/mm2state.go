package testbed

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	// From is where MM2 started copying, the target's end then the next
	// offset of its copies: 0 for a first copy, kmirror's end for an MM2
	// started after a hand-back.
	From int64
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
	ends := tgt.EndOffsets(t, topic)
	for p, l := range parts {
		for i, r := range src.Read(t, topic, p)[l.From:l.Copied] {
			at := l.From + int64(i)
			copies = append(copies, &kgo.Record{Topic: topic, Partition: p, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
			if at%l.SyncEvery == 0 && at >= l.SyncsFrom {
				k, v := mm2.EncodeSync(mm2.Partition{Topic: topic, Partition: p}, mm2.Sync{Upstream: at, Downstream: ends[p] + int64(i)})
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

// MM2Job is one flow for MM2 to copy, configured to do kmirror's job, as
// the tests and the benchmark harness run it: in dedicated mode on
// Properties, or as Strimzi runs it (StrimziConnectors, StartConnectMM2).
type MM2Job struct {
	// Source and Target are the cluster aliases, SourceAddr and
	// TargetAddr their bootstrap addresses.
	Source, Target         string
	SourceAddr, TargetAddr string
	// Topics and Groups are Java pattern lists.
	Topics, Groups string
	// TasksMax is tasks.max; 0 keeps MM2's default (1).
	TasksMax int
	// RefreshTopics makes MM2 look for new topics every second.
	RefreshTopics bool
	// DefaultPolicy keeps MM2's default replication policy (remote topics
	// named source.topic) instead of the identity one.
	DefaultPolicy bool
}

// Properties returns the job's mm2.properties: the identity policy (unless
// DefaultPolicy), offset syncs on the target, group offsets checkpointed and synced every
// second (the shortest interval either mirror takes), groups refreshed
// every second, and replication factors one broker can hold.
func (j MM2Job) Properties() string {
	var b strings.Builder
	fmt.Fprintf(&b, `clusters = %[1]s, %[2]s
%[1]s.bootstrap.servers = %[3]s
%[2]s.bootstrap.servers = %[4]s
%[1]s->%[2]s.enabled = true
%[2]s->%[1]s.enabled = false
%[1]s->%[2]s.topics = %[5]s
%[1]s->%[2]s.groups = %[6]s
offset-syncs.topic.location = target
sync.group.offsets.enabled = true
sync.group.offsets.interval.seconds = 1
emit.checkpoints.interval.seconds = 1
refresh.groups.interval.seconds = 1
replication.factor = 1
checkpoints.topic.replication.factor = 1
heartbeats.topic.replication.factor = 1
offset-syncs.topic.replication.factor = 1
offset.storage.replication.factor = 1
status.storage.replication.factor = 1
config.storage.replication.factor = 1
`, j.Source, j.Target, j.SourceAddr, j.TargetAddr, j.Topics, j.Groups)
	if !j.DefaultPolicy {
		b.WriteString("replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n")
	}
	if j.TasksMax > 0 {
		fmt.Fprintf(&b, "tasks.max = %d\n", j.TasksMax)
	}
	if j.RefreshTopics {
		b.WriteString("refresh.topics.interval.seconds = 1\n")
	}
	return b.String()
}
