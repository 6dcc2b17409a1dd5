package main_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/testbed"
)

// mm2Soak is how long MirrorMaker 2 copies after the hand-back, with no
// ERROR in its log.
const mm2Soak = 2 * time.Minute

// MirrorMaker 2 → kmirror (takeover) → MirrorMaker 2 (hand-back) → kmirror
// (takeover again), all on MM2's own properties file (dedicated mode), a
// producer writing throughout and a franz-go and a Java consumer group
// committing on the source. After each step every target partition equals
// the source record for record so far (none copied twice, none lost); the
// groups' offsets on the target and the checkpoints of every mirror in turn
// never move backwards; MM2 copies on after the hand-back for two minutes
// with no ERROR, translating the groups from its own syncs and a group
// committed inside kmirror's range from kmirror's syncs; and kmirror, back,
// commits them exactly.
func TestMM2RoundTrip(t *testing.T) {
	needsKafka(t, "MirrorMaker 2 comes with the Kafka jars")
	src, tgt, topic, srcSide, tgtSide, tps := newMM2Bed(t, "roundtrip-orders", "rt")
	const parts = mm2Parts
	groups := []string{uniq(t, "roundtrip-franz-go"), uniq(t, "roundtrip-java")}
	lagging := uniq(t, "roundtrip-lagging")
	// MM2 commits its positions every 5 s, so that a clean stop leaves
	// them, as in production it leaves them within a minute.
	props := mm2Properties(srcSide, tgtSide, topic, strings.Join(append(groups, lagging), "|")) + "offset.flush.interval.ms = 5000\n"
	config := filepath.Join(t.TempDir(), "mm2.properties")
	if err := os.WriteFile(config, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	load := startLoad(t, src.Addr, tps, 200)
	consumers := startGroups(t, src, topic, groups)
	watch := watchTargetGroups(t, tgt, topic, append(groups, lagging))
	steps := copySteps{t: t, tgt: tgt, topic: topic}
	// 1. MirrorMaker 2 copies, and syncs the groups.
	mm2run := testbed.StartMM2(t, props)
	waitCopied(t, tgt, topic, parts, steps.copied/parts+150, mm2run.Exited)
	testbed.WaitFor(t, time.Minute, "MirrorMaker 2 to sync the groups", func() bool { return watch.synced(groups) })
	stopMM2(t, mm2run, mm2run.Log, tgtSide, srcSide)
	steps.log("1. MM2 copied")

	// 2. kmirror takes over.
	mm2End := tgt.EndOffsets(t, topic)
	worker := runWorker(t, config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the last kmirror worker's output:\n%s", worker.output())
		}
	})
	worker.waitFor(t, "taking over from MirrorMaker 2", 2*time.Minute)
	waitCopied(t, tgt, topic, parts, steps.copied/parts+150, nil)
	stopWorker(t, worker)
	steps.log("2. kmirror took over")
	kmirrorEnd := tgt.EndOffsets(t, topic)
	handedBack := watch.snapshot()

	// A group commits once, in the middle of what kmirror copied: only
	// kmirror's offset syncs translate it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	inside := map[int32]int64{}
	for p := range int32(parts) {
		inside[p] = (mm2End[p] + kmirrorEnd[p]) / 2
	}
	commit(t, ctx, src.admin(t), lagging, topic, inside)

	// 3. Handed back, MM2 copies on for two minutes.
	code, out := runs(t, time.Minute, "migrate", "hand-back", "-c", config)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("HANDED BACK: %d partitions", parts)) || !strings.Contains(out, "mm2-offsets."+srcSide.alias+".internal") {
		t.Fatalf("hand-back: exit %d\n%s", code, out)
	}
	began := time.Now()
	mm2run = testbed.StartMM2(t, props)
	waitCopied(t, tgt, topic, parts, steps.copied/parts+150, mm2run.Exited)
	// The groups stop committing: MM2's translation of where they stand
	// is then compared with the exact one.
	committed := consumers.stop(t)
	committed[lagging] = inside
	testbed.WaitFor(t, mm2Soak+time.Minute, fmt.Sprintf("MirrorMaker 2 to copy for %s", mm2Soak), func() bool {
		if mm2run.Exited() {
			t.Fatalf("MirrorMaker 2 exited; its log is %s", mm2run.Log)
		}
		return time.Since(began) >= mm2Soak
	})
	lag := watch.lagBehind(committed)
	stopMM2(t, mm2run, mm2run.Log, tgtSide, srcSide)
	steps.log("3. MM2 copied on after the hand-back")
	t.Logf("MM2's translation of the groups' last commits, in records behind kmirror's exact one, by partition: %v", lag)
	now := watch.snapshot()
	for _, group := range groups {
		for p, at := range handedBack[group] {
			if now[group][p] <= at {
				t.Errorf("MirrorMaker 2 did not move %s %s[%d] on the target past %d after the hand-back, the group committing on", group, topic, p, at)
			}
		}
	}
	for p, g := range inside {
		if at, ok := now[lagging][p]; !ok || at > g || at <= mm2End[p] {
			t.Errorf("MirrorMaker 2 translated %s %s[%d] at %d to %d (present: %v): want at most %d, past MM2's own range (%d), from kmirror's syncs", lagging, topic, p, g, at, ok, g, mm2End[p])
		}
	}
	for group, byPart := range lag {
		for p, l := range byPart {
			if l < 0 {
				t.Errorf("%s %s[%d] is %d records past its source commit on the target: a switched consumer would skip them", group, topic, p, -l)
			}
		}
	}

	// 4. kmirror takes over again, the groups committing again.
	consumers = startGroups(t, src, topic, groups)
	worker = runWorker(t, config)
	worker.waitFor(t, "taking over from MirrorMaker 2", 2*time.Minute)
	waitCopied(t, tgt, topic, parts, steps.copied/parts+150, nil)
	written := load.stop()
	want := map[int32]int64{}
	for p, n := range written {
		want[p.partition] = n
	}
	tgt.waitEnds(t, topic, want, 3*time.Minute)
	consumers.caughtUp(t, want)
	committed = consumers.stop(t)
	testbed.WaitFor(t, time.Minute, "kmirror to sync the groups' last commits exactly", func() bool {
		if len(watch.lagBehind(committed)) != len(groups) {
			return false
		}
		for _, byPart := range watch.lagBehind(committed) {
			for _, l := range byPart {
				if l != 0 {
					return false
				}
			}
		}
		return true
	})
	stopWorker(t, worker)
	steps.log("4. kmirror took over again")
	compareTopic(t, src, tgt, topic, topic)
	if strings.Contains(worker.output(), "level=ERROR") {
		t.Errorf("kmirror logged errors:\n%s", worker.output())
	}

	for _, back := range watch.stop() {
		t.Errorf("a group moved backwards on the target: %s", back)
	}
	// The checkpoints of MM2, kmirror, MM2 and kmirror in turn, in the
	// order they were written: none goes back.
	last := map[string]int64{}
	for _, r := range tgt.Read(t, srcSide.alias+".checkpoints.internal", 0) {
		c, err := checkpoint.Decode(r.Key, r.Value)
		if err != nil || c.Topic != topic {
			continue
		}
		k := fmt.Sprintf("%s %s[%d]", c.Group, c.Topic, c.Partition)
		if prev, ok := last[k]; ok && c.Downstream < prev {
			t.Errorf("checkpoint of %s went back from %d to %d", k, prev, c.Downstream)
		}
		last[k] = c.Downstream
	}
}

// mm2Parts is the partitions of the topic a MirrorMaker 2 suite copies.
const mm2Parts = 3

// newMM2Bed is what a MirrorMaker 2 suite starts from: the clusters, a
// topic of mm2Parts partitions on the source (named after topic) and its
// partitions, and the two sides of the flow (aliases after prefix).
func newMM2Bed(t *testing.T, topic, prefix string) (src, tgt *bedCluster, name string, srcSide, tgtSide side, tps []tp) {
	t.Helper()
	src, tgt = clusters(t)
	name = uniq(t, topic)
	srcSide, tgtSide = side{alias: uniq(t, prefix+"a"), addr: src.Addr}, side{alias: uniq(t, prefix+"b"), addr: tgt.Addr}
	src.createTopic(t, name, mm2Parts, nil)
	for p := range int32(mm2Parts) {
		tps = append(tps, tp{name, p})
	}
	return src, tgt, name, srcSide, tgtSide, tps
}

// mirrorMaker is MirrorMaker 2 as a process: in dedicated mode
// (testbed.MM2) or laid out as Strimzi runs it (testbed.ConnectMM2).
type mirrorMaker interface {
	Stop(within time.Duration) bool
}

// stopMM2 stops MirrorMaker 2 and fails the test on an ERROR in its log
// before the stop: stopping, MM2's checkpoint task may still query groups
// on an admin client already closing, and logs that as an error. Dedicated
// mode also runs a herder for the disabled way back (B->A.enabled =
// false); MM2 3.9 logs errors there (its checkpoint connector's task
// reconfiguration), which no kmirror command writes to: only the errors of
// the flow copied count.
func stopMM2(t *testing.T, m mirrorMaker, logFile string, tgt, src side) {
	t.Helper()
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Stop(time.Minute) {
		t.Fatal("MirrorMaker 2 did not stop within a minute of SIGTERM")
	}
	back := "MirrorHerder-" + tgt.alias + "->" + src.alias
	lines := strings.Split(string(log), "\n")
	for i, line := range lines {
		if strings.Contains(line, " ERROR ") && !strings.Contains(line, back) && !closedCheckpointStores(lines[i:min(i+2, len(lines))]) {
			// The exception and where it came from follow.
			t.Errorf("MirrorMaker 2 logged an error: %s", strings.Join(lines[i:min(i+4, len(lines))], "\n"))
		}
	}
}

// closedCheckpointStores tells an error MM2 3.9 logs on its own: a
// checkpoint task stopped by a task reconfiguration (its connector found
// other groups) while its stores were still starting, in the background,
// whose start then runs on the closed consumer ("starting checkpoint and
// offset sync stores" … "This consumer has already been closed", 30 s
// after the stop). It reads nothing kmirror wrote; it happened in every
// run of TestMM2RoundTrip on 3.9.1 on 2026-12-08, at this session's start
// (a5db513) too, and never on 4.3.1.
func closedCheckpointStores(lines []string) bool {
	text := strings.Join(lines, "\n")
	return strings.Contains(text, "starting checkpoint and offset sync stores") &&
		strings.Contains(text, "This consumer has already been closed")
}

// groupClients are a franz-go and a Java consumer, one per group, reading
// a topic on the source and committing after every poll.
type groupClients struct {
	groups []string
	runs   []*switchRun
	src    *bedCluster
	topic  string
}

func startGroups(t *testing.T, src *bedCluster, topic string, groups []string) *groupClients {
	t.Helper()
	return &groupClients{groups: groups, src: src, topic: topic, runs: []*switchRun{
		startKgo(t, src.Addr, groups[0], topic, "classic", "earliest", "read_uncommitted"),
		startProgram(t, javaProgram("SwitchConsumer.java", src.Addr, groups[1], topic, "classic", "earliest", "read_uncommitted")),
	}}
}

// caughtUp waits until every group committed the source's ends.
func (g *groupClients) caughtUp(t *testing.T, ends map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := g.src.admin(t)
	testbed.WaitFor(t, 3*time.Minute, fmt.Sprintf("the groups to commit the source's ends %v", ends), func() bool {
		for _, group := range g.groups {
			if fmt.Sprint(groupOffsets(t, ctx, adm, group, g.topic)) != fmt.Sprint(ends) {
				return false
			}
		}
		return true
	})
}

// stop stops the consumers and returns what each group committed last on
// the source.
func (g *groupClients) stop(t *testing.T) map[string]map[int32]int64 {
	t.Helper()
	for _, r := range g.runs {
		r.stop(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := g.src.admin(t)
	out := map[string]map[int32]int64{}
	for _, group := range g.groups {
		out[group] = groupOffsets(t, ctx, adm, group, g.topic)
		if len(out[group]) == 0 {
			t.Fatalf("group %s committed nothing on the source", group)
		}
	}
	return out
}

// targetGroups polls the groups' committed offsets on the target until
// stopped, noting every move backwards.
type targetGroups struct {
	mu     sync.Mutex
	latest map[string]map[int32]int64
	backs  []string
	cancel context.CancelFunc
	done   chan struct{}
}

func watchTargetGroups(t *testing.T, tgt *bedCluster, topic string, groups []string) *targetGroups {
	t.Helper()
	adm := tgt.admin(t)
	ctx, cancel := context.WithCancel(context.Background())
	w := &targetGroups{latest: map[string]map[int32]int64{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, group := range groups {
				fetched, err := adm.FetchOffsets(ctx, group)
				if err != nil {
					continue
				}
				w.mu.Lock()
				if w.latest[group] == nil {
					w.latest[group] = map[int32]int64{}
				}
				for _, o := range fetched.Sorted() {
					if o.Topic != topic || o.Err != nil || o.At < 0 {
						continue
					}
					if prev, ok := w.latest[group][o.Partition]; ok && o.At < prev {
						w.backs = append(w.backs, fmt.Sprintf("%s %s[%d] %d → %d", group, topic, o.Partition, prev, o.At))
					}
					w.latest[group][o.Partition] = o.At
				}
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// synced says every one of groups has offsets on the target.
func (w *targetGroups) synced(groups []string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, g := range groups {
		if len(w.latest[g]) == 0 {
			return false
		}
	}
	return true
}

// snapshot is the groups' latest offsets on the target.
func (w *targetGroups) snapshot() map[string]map[int32]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]map[int32]int64{}
	for g, byPart := range w.latest {
		out[g] = maps.Clone(byPart)
	}
	return out
}

// lagBehind is, per group and partition, how far the target's offset is
// behind the source's committed one: the records a consumer switched now
// would read again (negative: skip). Copies are one for one, so the exact
// translation is the source offset itself. A group with a partition not
// yet on the target is left out.
func (w *targetGroups) lagBehind(committed map[string]map[int32]int64) map[string]map[int32]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]map[int32]int64{}
	for group, byPart := range committed {
		lag := map[int32]int64{}
		for p, g := range byPart {
			if at, ok := w.latest[group][p]; ok {
				lag[p] = g - at
			}
		}
		if len(lag) == len(byPart) {
			out[group] = lag
		}
	}
	return out
}

// stop ends the watch and returns the moves backwards it saw.
func (w *targetGroups) stop() []string {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.backs
}
