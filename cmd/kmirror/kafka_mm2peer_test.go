package main_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/mm2"
	"github.com/kmirror/kmirror/internal/testbed"
)

// mm2Properties is a dedicated-mode mm2.properties for one flow src→tgt of
// the topics (a Java pattern list), configured to do kmirror's job.
func mm2Properties(src, tgt side, topics, groups string) string {
	return testbed.MM2Job{Source: src.alias, Target: tgt.alias, SourceAddr: src.addr, TargetAddr: tgt.addr,
		Topics: topics, Groups: groups, RefreshTopics: true}.Properties()
}

// MirrorMaker 2 itself, in dedicated mode from Maven Central's jars, runs
// beside kmirror on the same brokers, the same cluster aliases and so the
// same offset-syncs, checkpoints and heartbeats topics, each copying its
// own topic: neither breaks the other — both topics copied whole, no ERROR
// in either's log. MM2 is also the peer of the comparisons and the
// takeover (issue #14): after a clean stop, package mm2 reads from MM2's
// Connect offsets topic exactly where MM2 would resume.
func TestMM2RunsBeside(t *testing.T) {
	needsKafka(t, "MirrorMaker 2 comes with the Kafka jars")
	src, tgt := clusters(t)
	topic, ours := uniq(t, "mm2peer-orders"), uniq(t, "mm2peer-kmirror")
	var recs []*kgo.Record
	for _, name := range []string{topic, ours} {
		src.createTopic(t, name, 3, nil)
		for i := range 300 {
			recs = append(recs, &kgo.Record{Topic: name, Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
		}
	}
	src.Produce(t, recs)
	began := time.Now()
	srcSide, tgtSide := side{alias: uniq(t, "mm2a"), addr: src.Addr}, side{alias: uniq(t, "mm2b"), addr: tgt.Addr}
	alias := srcSide.alias
	mm2run := testbed.StartMM2(t, mm2Properties(srcSide, tgtSide, topic, "none"))
	worker := runWorker(t, flowConfig(t, srcSide, tgtSide, groupSyncMirror(ours, "none", false)))
	testbed.WaitFor(t, 3*time.Minute, "MirrorMaker 2 to copy "+topic+" and kmirror "+ours, func() bool {
		if mm2run.Exited() {
			t.Fatalf("MirrorMaker 2 exited; its log is %s", mm2run.Log)
		}
		for _, name := range []string{topic, ours} {
			ends := tgt.EndOffsets(t, name)
			if ends[0] != 100 || ends[1] != 100 || ends[2] != 100 {
				return false
			}
		}
		return true
	})
	t.Logf("MirrorMaker 2 (heap %s) copied 300 records %s after its start, kmirror 300 beside it", testbed.MM2Heap, time.Since(began).Round(100*time.Millisecond))
	compareTopic(t, src, tgt, topic, topic)
	compareTopic(t, src, tgt, ours, ours)
	stopWorker(t, worker)
	if strings.Contains(worker.output(), "level=ERROR") {
		t.Errorf("kmirror logged errors beside MirrorMaker 2:\n%s", worker.output())
	}
	stopMM2(t, mm2run, mm2run.Log, tgtSide, srcSide)

	// Stopped cleanly, MM2 committed where it resumes each partition: the
	// source's end, read back from its Connect offsets topic as kmirror
	// reads it to take over.
	offsets := mm2.OffsetsTopics(alias)[0]
	var stored []*kgo.Record
	for p := range tgt.EndOffsets(t, offsets) {
		stored = append(stored, tgt.Read(t, offsets, p)...)
	}
	all, err := mm2.Positions(stored, alias)
	if err != nil {
		t.Errorf("MM2's offsets topic %s: %v", offsets, err)
	}
	// MM2 also copies the source's heartbeats, which its reverse flow's
	// heartbeat connector writes there (even with that flow disabled).
	got := map[mm2.Partition]int64{}
	for p, next := range all {
		if p.Topic == topic {
			got[p] = next
		}
	}
	want := map[mm2.Partition]int64{}
	for p, end := range src.EndOffsets(t, topic) {
		want[mm2.Partition{Topic: topic, Partition: p}] = end
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("MM2's positions in %s = %v, want the source's ends %v", offsets, got, want)
	}
}
