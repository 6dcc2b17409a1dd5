package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/testbed"
)

// kmirror → hand-back → MirrorMaker 2, on MM2's own properties file, a
// producer writing throughout: kmirror copies and stops, hand-back writes
// MM2's positions, MM2 copies on, and every target partition equals the
// source record for record (none copied twice, none lost), with no ERROR
// in MM2's log.
func TestHandBackToMM2(t *testing.T) {
	needsKafka(t, "MirrorMaker 2 comes with the Kafka jars")
	src, tgt := clusters(t)
	topic := uniq(t, "handback-orders")
	srcSide, tgtSide := side{alias: uniq(t, "hba"), addr: src.Addr}, side{alias: uniq(t, "hbb"), addr: tgt.Addr}
	const parts = 3
	src.createTopic(t, topic, parts, nil)
	var tps []tp
	for p := range int32(parts) {
		tps = append(tps, tp{topic, p})
	}
	props := mm2Properties(srcSide, tgtSide, topic, "none")
	config := filepath.Join(t.TempDir(), "mm2.properties")
	if err := os.WriteFile(config, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	load := startLoad(t, src.Addr, tps, 300)
	worker := runWorker(t, config)
	testbed.WaitFor(t, 2*time.Minute, "kmirror to copy", func() bool {
		ends := tgt.EndOffsets(t, topic)
		for _, end := range ends {
			if end < 100 {
				return false
			}
		}
		return len(ends) == parts
	})
	stopWorker(t, worker)

	code, out := runs(t, time.Minute, "migrate", "hand-back", "-c", config)
	if code != 0 || !strings.Contains(out, "HANDED BACK: 3 partitions") || !strings.Contains(out, "mm2-offsets."+srcSide.alias+".internal") {
		t.Fatalf("hand-back: exit %d\n%s", code, out)
	}
	t.Logf("hand-back:\n%s", out)

	mm2run := testbed.StartMM2(t, props)
	testbed.WaitFor(t, time.Minute, "more records written", func() bool {
		n, err := load.progress()
		return n >= 3*parts*300 || err != nil
	})
	written := load.stop()
	want := map[int32]int64{}
	for p, n := range written {
		want[p.partition] = n
	}
	testbed.WaitFor(t, 3*time.Minute, "MirrorMaker 2 to copy on", func() bool {
		if mm2run.Exited() {
			t.Fatalf("MirrorMaker 2 exited; its log is %s", mm2run.Log)
		}
		ends := tgt.EndOffsets(t, topic)
		for p, end := range ends {
			if end < want[p] {
				return false
			}
		}
		return len(ends) == parts
	})
	if !mm2run.Stop(time.Minute) {
		t.Fatal("MirrorMaker 2 did not stop within a minute of SIGTERM")
	}
	compareTopic(t, src, tgt, topic, topic)
	log, err := os.ReadFile(mm2run.Log)
	if err != nil {
		t.Fatal(err)
	}
	// Dedicated mode also runs a herder for the disabled way back
	// (B->A.enabled = false); MM2 3.9's logs errors there (its checkpoint
	// connector's task reconfiguration), which hand-back does not write
	// to: only the errors of the flow handed back count.
	back := "MirrorHerder-" + tgtSide.alias + "->" + srcSide.alias
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, " ERROR ") && !strings.Contains(line, back) {
			t.Errorf("MirrorMaker 2 logged an error: %s", line)
		}
	}
}
