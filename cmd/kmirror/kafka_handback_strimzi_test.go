package main_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// MirrorMaker 2 as Strimzi runs a KafkaMirrorMaker2 resource — a Kafka
// Connect cluster on the target, group mirrormaker2-cluster, connectors
// named A->B.MirrorSourceConnector — and kmirror on the resource's spec, a
// producer writing throughout: MM2 copies and stops; kmirror takes over
// from mirrormaker2-cluster-offsets, copies and stops; hand-back writes
// MM2's positions there; MM2 copies on. Every target partition equals the
// source record for record (none copied twice, none lost), with no ERROR
// in the Connect workers' logs before their stops.
func TestHandBackStrimziLayout(t *testing.T) {
	needsKafka(t, "MirrorMaker 2 comes with the Kafka jars")
	src, tgt, topic, srcSide, tgtSide, tps := newMM2Bed(t, "strimzi-orders", "hs")
	const parts = mm2Parts
	job := testbed.MM2Job{Source: srcSide.alias, Target: tgtSide.alias, SourceAddr: src.Addr, TargetAddr: tgt.Addr,
		Topics: topic, Groups: "none", RefreshTopics: true}
	config := flowConfig(t, srcSide, tgtSide, job.StrimziMirror())
	load := startLoad(t, src.Addr, tps, 300)
	steps := copySteps{t: t, tgt: tgt, topic: topic}

	mm2run := testbed.StartConnectMM2(t, job)
	waitCopied(t, tgt, topic, parts, 100, mm2run.Exited)
	stopMM2(t, mm2run, mm2run.Log, tgtSide, srcSide)
	steps.log("MirrorMaker 2 (Strimzi's layout) copied and stopped")

	worker := runWorker(t, config)
	worker.waitFor(t, "taking over from MirrorMaker 2", 2*time.Minute)
	waitCopied(t, tgt, topic, parts, steps.copied/parts+100, nil)
	stopWorker(t, worker)
	took := 0
	for _, line := range strings.Split(worker.output(), "\n") {
		if strings.Contains(line, `msg="taking over from MirrorMaker 2"`) && strings.Contains(line, "offsets_topic="+testbed.StrimziOffsetsTopic) {
			took++
		}
	}
	if took != parts {
		t.Errorf("kmirror took over %d partitions from %s, want %d:\n%s", took, testbed.StrimziOffsetsTopic, parts, worker.output())
	}
	steps.log("kmirror took over, copied and stopped")

	code, out := runs(t, time.Minute, "migrate", "hand-back", "-c", config)
	wrote := fmt.Sprintf("wrote MM2's positions to %q (connector %q)", testbed.StrimziOffsetsTopic, srcSide.alias+"->"+tgtSide.alias+".MirrorSourceConnector")
	if code != 0 || !strings.Contains(out, "HANDED BACK: 3 partitions") || !strings.Contains(out, wrote) {
		t.Fatalf("hand-back: exit %d, want %q:\n%s", code, wrote, out)
	}
	t.Logf("hand-back:\n%s", out)

	mm2run = testbed.StartConnectMM2(t, job)
	waitCopied(t, tgt, topic, parts, steps.copied/parts+100, mm2run.Exited)
	written := load.stop()
	if _, err := load.progress(); err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	for p, n := range written {
		want[p.partition] = n
	}
	testbed.WaitFor(t, 2*time.Minute, "MirrorMaker 2 to copy on", func() bool {
		if mm2run.Exited() {
			t.Fatalf("the Kafka Connect worker exited; its log is %s", mm2run.Log)
		}
		ends := tgt.EndOffsets(t, topic)
		for p, end := range ends {
			if end < want[p] {
				return false
			}
		}
		return len(ends) == parts
	})
	stopMM2(t, mm2run, mm2run.Log, tgtSide, srcSide)
	steps.log("MirrorMaker 2 (Strimzi's layout) copied on to the source's end")
	compareTopic(t, src, tgt, topic, topic)
}

// waitCopied waits until every partition of topic on the target holds at
// least n records, failing the test if exited (when given) says the
// mirror stopped.
func waitCopied(t *testing.T, tgt *bedCluster, topic string, parts int, n int, exited func() bool) {
	t.Helper()
	testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("%d records in each partition of %s on the target", n, topic), func() bool {
		if exited != nil && exited() {
			t.Fatal("the mirror exited while copying")
		}
		ends := tgt.EndOffsets(t, topic)
		for _, end := range ends {
			if end < int64(n) {
				return false
			}
		}
		return len(ends) == parts
	})
}

// copySteps logs, after each step of a migration, what the target holds of
// a topic the load writes: the records copied, in the step and so far,
// those copied twice and those lost (the source records below the last one
// copied that the target lacks), and fails the test on either.
type copySteps struct {
	t      *testing.T
	tgt    *bedCluster
	topic  string
	copied int // target records after the last step
}

func (s *copySteps) log(step string) {
	s.t.Helper()
	var rep copyReport
	n := 0
	for p, recs := range s.tgt.readAll(s.t, s.topic) {
		n += len(recs)
		rep.add(copiedSeqs(s.topic, p, recs))
	}
	s.t.Logf("%s: %d records copied in this step, %d on the target, %d duplicates, %d lost", step, n-s.copied, n, rep.duplicates, rep.missing)
	if rep.duplicates+rep.missing+rep.jumps+rep.unknown > 0 {
		s.t.Errorf("%s: %d duplicates, %d lost, %d out of order, %d not the load's", step, rep.duplicates, rep.missing, rep.jumps, rep.unknown)
	}
	s.copied = n
}

// copiedSeqs compares a target partition with the records the load wrote
// to its source partition, up to the last one copied.
func copiedSeqs(topic string, p int32, recs []*kgo.Record) copyReport {
	seqs := make([]int64, len(recs))
	var n int64
	for i, r := range recs {
		seqs[i] = -1
		rest, ok := strings.CutPrefix(string(r.Value), fmt.Sprintf("%s/%d/", topic, p))
		if s, err := strconv.ParseInt(rest, 10, 64); ok && err == nil {
			seqs[i], n = s, max(n, s+1)
		}
	}
	return compareSeqs(n, seqs)
}
