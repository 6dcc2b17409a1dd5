package main_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue #5's acceptance tests with real processes: three `kmirror run`
// workers of one deployment between two dev-cluster processes, while a
// producer writes to the source.
//
// The figures (duplicates, rewinds, gaps) are logged on one line each;
// run with -v to see them:
//
//	go test -race -count=1 ./cmd/kmirror -run 'Workers|Scaling' -v

const (
	// stops is how many times a worker is killed or stopped; each time,
	// once the three workers share the partitions again, they copy for
	// copyFor before the next stop.
	stops   = 20
	copyFor = time.Second
	// records is the least the producer writes.
	records = 500_000
)

func TestWorkersSurviveKills(t *testing.T) {
	b := newWorkerBed(t)
	workers := startWorkers(t, b, 3)
	b.sharing(t, workers, time.Minute)
	l := startLoad(t, b.source, b.parts, 4000)
	began := time.Now()

	// Each kill may repeat, on each partition the killed worker was
	// writing, what it copied after its last stored progress. A kill
	// comes once the three workers share the partitions again (the
	// killed one's are taken over after the session timeout, and the
	// restarted one gets its share) and have copied a while: each kill
	// cuts copying short, and each takeover is exercised.
	owned := 0
	var takeovers []time.Duration
	for k := range stops {
		pause(t, l, copyFor)
		i := rand.IntN(len(workers))
		w := workers[i]
		if err := w.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		n := owning(finalOutput(t, w))
		owned += n
		workers[i] = b.worker(t)
		b.sharing(t, workers, time.Minute)
		takeovers = append(takeovers, time.Since(killed))
		t.Logf("kill %d at %s: worker %d, writing %d partitions; the three workers copy again %s later",
			k+1, killed.Sub(began).Round(time.Millisecond), i, n, takeovers[k].Round(time.Millisecond))
	}
	written := finishLoad(t, l, records)
	b.waitCaughtUp(t, written, 2*time.Minute)
	checkRunning(t, workers)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := readProgress(ctx, b.target)
	if err != nil {
		t.Fatal(err)
	}
	rep := b.compare(t, written, restartsAtProgress(ws))
	slices.Sort(takeovers)
	t.Logf("kills=%d records=%d duplicates=%d rewinds=%d missing=%d (the killed workers were writing %d partitions in all; longest rewind %d records; "+
		"kill to all copying again: median %s, max %s; %s)",
		stops, rep.records, rep.duplicates, rep.rewinds, rep.missing, owned, rep.maxDepth,
		takeovers[len(takeovers)/2].Round(time.Millisecond), takeovers[len(takeovers)-1].Round(time.Millisecond), time.Since(began).Round(time.Second))
	if rep.records < records {
		t.Errorf("only %d records written", rep.records)
	}
	// A kill repeats at most one stretch on each partition the killed
	// worker was writing: its next owner resumes once, from the stored
	// progress (compare checks each rewind restarts there).
	if rep.rewinds > owned {
		t.Errorf("%d rewinds, more than the %d partitions the killed workers were writing", rep.rewinds, owned)
	}
}

func TestWorkersStopCleanly(t *testing.T) {
	b := newWorkerBed(t)
	workers := startWorkers(t, b, 3)
	b.sharing(t, workers, time.Minute)
	l := startLoad(t, b.source, b.parts, 12_000)
	began := time.Now()

	var longest time.Duration
	for k := range stops {
		pause(t, l, copyFor)
		i := rand.IntN(len(workers))
		w := workers[i]
		sent := time.Now()
		if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := w.exit(t, 45*time.Second); code != 0 {
			t.Fatalf("stop %d: worker %d exited %d after SIGTERM:\n%s", k+1, i, code, w.output())
		}
		took := time.Since(sent)
		longest = max(longest, took)
		out := finalOutput(t, w)
		if !strings.Contains(out, "stopped; progress persisted") {
			t.Errorf("stop %d: worker %d reported no clean stop:\n%s", k+1, i, out)
		}
		t.Logf("stop %d at %s: worker %d, writing %d partitions, exited 0 in %s", k+1, time.Since(began).Round(time.Millisecond),
			i, owning(out), took.Round(time.Millisecond))
		workers[i] = b.worker(t)
		b.sharing(t, workers, time.Minute)
	}
	written := finishLoad(t, l, records)
	b.waitCaughtUp(t, written, 2*time.Minute)
	checkRunning(t, workers)

	// A clean stop persists everything it copied: nothing is copied twice.
	rep := b.compare(t, written, func(tp, int64) bool { return false })
	t.Logf("stops=%d records=%d duplicates=%d rewinds=%d missing=%d (longest stop %s; %s)",
		stops, rep.records, rep.duplicates, rep.rewinds, rep.missing, longest.Round(time.Millisecond), time.Since(began).Round(time.Second))
	if rep.records < records {
		t.Errorf("only %d records written", rep.records)
	}
	if rep.duplicates != 0 {
		t.Errorf("%d duplicates after clean stops", rep.duplicates)
	}
}
