package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// kmirror takes over from a running MirrorMaker 2 (dedicated mode, the
// Kafka jars' own) on MM2's own configuration file, while producers write:
// after a clean stop of MM2, and after a SIGKILL (before MM2's first
// offset commit, so that only its offset syncs say how far it copied).
// Nothing is lost, nothing MM2 copied is copied again, no target group
// moves backwards, a group committed inside MM2's range is translated as
// MM2 does (status says "mm2"), and a consumer that switches after the
// takeover resumes exactly after its last record (status says "exact"),
// with kmirror's checkpoint in MM2's checkpoints topic.
func TestTakeOverFromMM2(t *testing.T) {
	needsKafka(t, "MirrorMaker 2 comes with the Kafka jars")
	for _, c := range []struct {
		name string
		kill bool
	}{{"clean stop", false}, {"SIGKILL", true}} {
		t.Run(c.name, func(t *testing.T) { takeOverFromMM2(t, c.kill) })
	}
}

func takeOverFromMM2(t *testing.T, kill bool) {
	src, tgt, topic, srcSide, tgtSide, tps := newMM2Bed(t, "takeover-orders", "tk")
	const parts = mm2Parts
	lagging, switching := uniq(t, "takeover-lagging"), uniq(t, "takeover-switching")
	load := startLoad(t, src.Addr, tps, 300)
	testbed.WaitFor(t, time.Minute, "records to lag behind", func() bool {
		n, err := load.progress()
		return n >= 3*parts*20 || err != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	commit(t, ctx, src.admin(t), lagging, topic, map[int32]int64{0: 20, 1: 20, 2: 20})

	// MM2 on its own configuration file, which kmirror then reads too.
	props := mm2Properties(srcSide, tgtSide, topic, lagging+"|"+switching)
	if !kill {
		// The clean stop commits MM2's positions; the SIGKILL comes
		// before the first periodic commit (a minute by default).
		props += "offset.flush.interval.ms = 5000\n"
	}
	mm2run := testbed.StartMM2(t, props)
	testbed.WaitFor(t, 3*time.Minute, "MirrorMaker 2 to copy and sync the lagging group", func() bool {
		if mm2run.Exited() {
			t.Fatalf("MirrorMaker 2 exited; its log is %s", mm2run.Log)
		}
		for _, end := range tgt.EndOffsets(t, topic) {
			if end < 150 {
				return false
			}
		}
		return len(groupOffsets(t, ctx, tgt.admin(t), lagging, topic)) == parts
	})
	if kill {
		mm2run.Kill()
	} else if !mm2run.Stop(time.Minute) {
		t.Fatal("MirrorMaker 2 did not stop within a minute of SIGTERM")
	}
	before := groupOffsets(t, ctx, tgt.admin(t), lagging, topic)
	if len(before) != parts {
		t.Fatalf("the lagging group's offsets on the target: %v", before)
	}
	t.Logf("MirrorMaker 2 stopped with the target at %v; the lagging group at %v there", tgt.EndOffsets(t, topic), before)

	config := filepath.Join(t.TempDir(), "mm2.properties")
	if err := os.WriteFile(config, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	code, planOut := runs(t, time.Minute, "plan", "-c", config)
	if code != 0 || !strings.Contains(planOut, "taken over from MirrorMaker 2") {
		t.Fatalf("plan: exit %d, no takeover shown:\n%s", code, planOut)
	}
	worker := runWorker(t, config)
	worker.waitFor(t, "taking over from MirrorMaker 2", 2*time.Minute)
	for _, line := range strings.Split(planOut, "\n") {
		if strings.Contains(line, "copying resumes at") {
			t.Logf("plan: %s", strings.TrimSpace(line))
		}
	}

	// A consumer of the switching group reads on the source after the
	// takeover and commits; then it switches.
	testbed.WaitFor(t, time.Minute, "more records written", func() bool {
		n, err := load.progress()
		return n >= 3*parts*300 || err != nil
	})
	switchAt := map[int32]int64{}
	for p, end := range src.EndOffsets(t, topic) {
		switchAt[p] = end - 7
	}
	commit(t, ctx, src.admin(t), switching, topic, switchAt)
	written := load.stop()
	want := map[int32]int64{}
	for p, n := range written {
		want[p.partition] = n
	}
	tgt.waitEnds(t, topic, want, 3*time.Minute)
	compareTopic(t, src, tgt, topic, topic)

	var switched map[int32]int64
	testbed.WaitFor(t, time.Minute, "the switching group synced", func() bool {
		switched = groupOffsets(t, ctx, tgt.admin(t), switching, topic)
		for p, g := range switchAt {
			if switched[p] != g { // the copies are one for one: the same offsets
				return false
			}
		}
		return true
	})
	for p, g := range switchAt {
		got := tgt.Read(t, topic, p)[switched[p]]
		if wantValue := fmt.Sprintf("%s/%d/%d", topic, p, g); string(got.Value) != wantValue {
			t.Errorf("the switching group resumes %s[%d] at %q, want %q: the record after its last one", topic, p, got.Value, wantValue)
		}
	}
	after := groupOffsets(t, ctx, tgt.admin(t), lagging, topic)
	if len(after) != parts {
		t.Fatalf("the lagging group's offsets on the target: %v", after)
	}
	for p, b := range before {
		if after[p] < b {
			t.Errorf("the lagging group moved backwards on the target: %s[%d] %d → %d", topic, p, b, after[p])
		}
	}

	g, ok := groupStatus(t, config, lagging)
	if !ok {
		t.Fatalf("status does not report %s", lagging)
	}
	for _, gp := range g.Partitions {
		if gp.Translation != status.TranslationMM2 {
			t.Errorf("status: %s %s[%d] at %d translated %q, want %q: it lies where MM2 copied", lagging, gp.Topic, gp.Partition, gp.Source, gp.Translation, status.TranslationMM2)
		}
	}
	g, _ = groupStatus(t, config, switching)
	for _, gp := range g.Partitions {
		if gp.Translation != status.TranslationExact || gp.State != status.StateInSync {
			t.Errorf("status: %s %s[%d] translated %q (%s), want exact and in sync", switching, gp.Topic, gp.Partition, gp.Translation, gp.State)
		}
	}

	// kmirror's checkpoints go to MM2's checkpoints topic, in its format.
	checkpoints := srcSide.alias + ".checkpoints.internal"
	found := map[int32]int64{}
	for _, r := range tgt.Read(t, checkpoints, 0) {
		if c, err := checkpoint.Decode(r.Key, r.Value); err == nil && c.Group == switching {
			found[c.Partition] = c.Downstream
		}
	}
	for p, g := range switchAt {
		if found[p] != g {
			t.Errorf("%s: the last checkpoint of %s[%d] for %s is %d, want %d", checkpoints, topic, p, switching, found[p], g)
		}
	}
	stopWorker(t, worker)
	if strings.Contains(worker.output(), "level=ERROR") {
		t.Errorf("kmirror logged errors:\n%s", worker.output())
	}
}

// commit commits offsets of a group on a cluster.
func commit(t *testing.T, ctx context.Context, adm *kadm.Client, group, topic string, at map[int32]int64) {
	t.Helper()
	o := kadm.Offsets{}
	for p, off := range at {
		o.Add(kadm.Offset{Topic: topic, Partition: p, At: off, LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, group, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit %s: %v", group, err)
	}
}

// groupOffsets returns the offsets a group committed for a topic; nil
// while the cluster cannot say (its group coordinator is still loading).
func groupOffsets(t *testing.T, ctx context.Context, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil
	}
	out := map[int32]int64{}
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}
