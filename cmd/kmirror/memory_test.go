package main_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
)

// The limits the memory test configures, and the load it copies: 16
// partitions over 4 tasks, so that each task's fetch is bounded by
// fetch.max.bytes (4 × max.partition.fetch.bytes).
const (
	memBufferMemory   = 8 << 20   // producer.buffer.memory
	memFetchMaxBytes  = 2 << 20   // consumer.fetch.max.bytes
	memPartitionBytes = 512 << 10 // consumer.max.partition.fetch.bytes
	memTasks          = 4         // tasks.max
	memPartitions     = 16
	memRecords        = 200_000 // per backlog
	memValueBytes     = 1 << 10
	memBlock          = 30 * time.Second
)

// procMemory reads a process's resident set (VmRSS) and its peak (VmHWM),
// in bytes, from /proc.
func procMemory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != "VmRSS" && name != "VmHWM" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// sampleRSS samples a process's VmRSS every 200 ms until stop is closed and
// returns the highest sample.
func sampleRSS(t *testing.T, pid int, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			rss, _, err := procMemory(pid)
			if err != nil {
				t.Errorf("read the memory of kmirror: %v", err)
			}
			peak = max(peak, rss)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// While the target accepts no write for 30 s and the source holds a
// backlog far larger than kmirror's buffers, a kmirror process stays within
// the memory those buffers allow, and once the target is back every record
// arrives.
//
// What the configuration allows, with B = producer.buffer.memory, F =
// consumer.fetch.max.bytes and T = tasks.max (the fetcher reads each
// response into one buffer, and a forwarded batch is written from it, in
// place):
//   - each task's fetcher holds at most two responses of at most F: the
//     one its task is handing to the producer, and the next one, fetched
//     as soon as the task took the one before and held until it takes it
//     (one fetch at a time per broker; the source has one): 2·T·F;
//   - the producer holds at most B of batches; forwarded ones are parts of
//     the fetched responses, so what they keep alive is the responses
//     they came from: B, plus about one response per task whose batches
//     are partly acknowledged already: B + T·F;
//   - the produce requests written for those batches, encoded: at most B.
//
// Live data is then at most 2·B + 3·T·F, and a quarter more for what
// re-encoding decodes. kmirror run collects at GOGC=25 (cli.RunGCPercent),
// but the bound keeps Go's default: a heap twice the live data, and the
// scavenger's tenth more before it returns memory to the system. The limit
// is the idle worker's resident set plus 1.1 × 2 × 1.25 × (2·B + 3·T·F).
//
// The source data is not compressed: F bounds what is fetched, compressed,
// and franz-go cannot bound what it decompresses to.
//
// CI runs this test: .ci/run passes no -short.
func TestMemoryStaysBoundedWhileTheTargetBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a minute; CI runs it (no -short)")
	}
	// The bound assumes the collector's defaults.
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "off")

	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("load", memPartitions, nil); err != nil {
		t.Fatal(err)
	}
	// Hold every produce request on the target while blocked is set.
	var blocked atomic.Bool
	var held atomic.Int64
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	tgt.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		tgt.KeepControl()
		if blocked.Load() {
			held.Add(1)
			tgt.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})

	dir := t.TempDir()
	config := filepath.Join(dir, "kmirror.yaml")
	mirror := fmt.Sprintf(`    topicsPattern: "load"
    sourceConnector:
      tasksMax: %d
      config:
        replication.policy.class: identity
        producer.buffer.memory: %d
        consumer.fetch.max.bytes: %d
        consumer.max.partition.fetch.bytes: %d
`, memTasks, memBufferMemory, memFetchMaxBytes, memPartitionBytes)
	if err := os.WriteFile(config, []byte(testbed.NativeConfig(src, tgt, mirror)), 0o600); err != nil {
		t.Fatal(err)
	}

	run := start(t, "run", "-c", config, "--http", "")
	run.waitFor(t, "running; stop with SIGINT or SIGTERM", 30*time.Second)
	run.waitFor(t, `msg=copying`, 30*time.Second)
	pid := run.cmd.Process.Pid

	// The overhead: an idle worker with its clients and tasks running.
	stop := make(chan struct{})
	idlePeak := sampleRSS(t, pid, stop)
	time.Sleep(2 * time.Second) // the sampling period
	close(stop)
	idle := <-idlePeak

	noise := make([]byte, 64<<10)
	for i := range noise {
		noise[i] = byte(rand.IntN(256))
	}
	seq := 0
	produce := func(n int) {
		t.Helper()
		cl := src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic("load"),
			kgo.ProducerBatchCompression(kgo.NoCompression()))
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for range n / 10_000 {
			recs := make([]*kgo.Record, 10_000)
			for i := range recs {
				seq++
				at := seq % (len(noise) - memValueBytes)
				recs[i] = &kgo.Record{Partition: int32(seq % memPartitions), Key: []byte(strconv.Itoa(seq)),
					Value: noise[at : at+memValueBytes], Timestamp: time.UnixMilli(1_700_000_000_000 + int64(seq)),
					Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(seq))}}}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("produce to the source: %v", err)
			}
		}
	}
	copied := func() int64 { return sum(tgt.EndOffsets(t, "load")) }

	// A first backlog is copied as usual.
	produce(memRecords)
	testbed.WaitFor(t, 2*time.Minute, "the first backlog copied", func() bool { return copied() == int64(memRecords) })

	// Then the target blocks every write for 30 s, while a second backlog
	// arrives on the source.
	stop = make(chan struct{})
	blocked.Store(true)
	blockedAt := time.Now()
	blockPeak := sampleRSS(t, pid, stop)
	produce(memRecords)
	testbed.WaitFor(t, memBlock, "kmirror to write to the blocked target", func() bool { return held.Load() > 0 })
	time.Sleep(time.Until(blockedAt.Add(memBlock))) // the block lasts this long
	close(stop)
	peak := <-blockPeak
	stuck := copied()
	blocked.Store(false)
	unblock()

	testbed.WaitFor(t, 3*time.Minute, "every record copied", func() bool { return copied() == int64(2*memRecords) })
	_, hwm, err := procMemory(pid)
	if err != nil {
		t.Fatal(err)
	}
	buffers := int64(2*memBufferMemory + 3*memTasks*memFetchMaxBytes)
	limit := idle + buffers*11/4 // 1.1 × 2 × 1.25
	t.Logf("idle RSS %s; peak RSS while the target blocked %s (%d produce requests held, %d of %d records on the target); peak RSS over the run (VmHWM) %s",
		mib(idle), mib(peak), held.Load(), stuck, 2*memRecords, mib(hwm))
	t.Logf("buffers 2 × buffer.memory %s + 3 × %d tasks × fetch.max.bytes %s = %s; limit idle + 1.1 × 2 × 1.25 × buffers = %s; second backlog on the source %s",
		mib(memBufferMemory), memTasks, mib(memFetchMaxBytes), mib(buffers), mib(limit), mib(int64(memRecords*memValueBytes)))
	if peak > limit {
		t.Errorf("peak RSS while the target blocked %s > %s", mib(peak), mib(limit))
	}
	if hwm > limit {
		t.Errorf("peak RSS over the run %s > %s", mib(hwm), mib(limit))
	}
	if stuck != int64(memRecords) {
		t.Errorf("%d records on the target while it blocked, want the first backlog's %d: the block did not hold", stuck, memRecords)
	}

	// Zero loss: every record, in order, on the same partition.
	for p := range int32(memPartitions) {
		a, b := src.Read(t, "load", p), tgt.Read(t, "load", p)
		if len(a) != len(b) {
			t.Errorf("load[%d]: %d records on the source, %d on the target", p, len(a), len(b))
			continue
		}
		for i := range a {
			if err := testbed.SameRecord(a[i], b[i]); err != nil {
				t.Errorf("load[%d] record %d: %v", p, i, err)
				break
			}
		}
	}
}

func sum(m map[int32]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}
