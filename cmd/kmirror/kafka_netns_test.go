package main_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// A network partition between kmirror and the brokers (issue #13):
// kmirror runs in a network namespace of the test's own, joined to the
// host by a veth pair whose two addresses exist only for the test; the
// brokers listen on and advertise the host side. The link is cut for 20 s
// twice: while records are copied, and while kmirror syncs a consumer
// group's offsets that a consumer on the source keeps committing. Nothing
// may be lost or repeated, and the target group's committed offsets must
// never move backwards.
func TestNetworkPartition(t *testing.T) {
	needsKafka(t, "a network partition between kmirror and Apache Kafka")
	began := time.Now()
	ns := newNetns(t)
	src := testbed.StartKafka(t, testbed.KafkaOptions{Host: ns.hostIP})
	tgt := testbed.StartKafka(t, testbed.KafkaOptions{Host: ns.hostIP})
	t.Logf("Apache Kafka %s: source %s, target %s, kmirror in namespace %s (%s), started in %s",
		src.Version, src.Addr, tgt.Addr, ns.name, ns.nsIP, time.Since(began).Round(time.Second))
	s, g := &bedCluster{Brokers: src.Brokers, kafka: src}, &bedCluster{Brokers: tgt.Brokers, kafka: tgt}
	const (
		topic      = "cut"
		group      = "cut-readers"
		partitions = 4
		rate       = 200 // records a second
	)
	s.createTopic(t, topic, partitions, nil)
	var parts []tp
	for p := range int32(partitions) {
		parts = append(parts, tp{topic, p})
	}
	cfg := flowConfig(t, side{alias: "nsrc", addr: src.Addr}, side{alias: "ntgt", addr: tgt.Addr}, groupSyncMirror(topic, group, false))
	l := startLoad(t, src.Addr, parts, rate)
	r := startReader(t, src.Addr, topic, group)
	w := ns.runWorker(t, cfg)
	f := newFaultBed(t, s, g, w, l, topic, topic)
	m := watchGroup(t, f.tgtAdm, group, topic)
	f.progress(t, "start")
	waitGroupMoves(t, m, time.Minute)

	t.Run("cut while copying", func(t *testing.T) {
		before := ends(f.tgtAdm, topic)
		testbed.WaitFor(t, time.Minute, "the target to grow", func() bool {
			now := ends(f.tgtAdm, topic)
			return now != nil && sumOffsets(now) > sumOffsets(before)
		})
		ns.cut(t, 20*time.Second, f)
		f.progress(t, "link restored")
	})
	t.Run("cut during a group sync", func(t *testing.T) {
		// Cut right after the target group moved: the next sync rounds
		// meet the cut, with the source group moving on meanwhile.
		waitGroupMoves(t, m, time.Minute)
		ns.cut(t, 20*time.Second, f)
		f.progress(t, "link restored")
		want := r.committed(t)
		testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("the target group to reach %v", want), func() bool {
			got := m.last()
			for p, o := range want {
				if got[p] < o {
					return false
				}
			}
			return true
		})
	})

	written := finishLoad(t, f.l, 0)
	f.progress(t, "the producer stopped")
	// The reader reaches the end and commits it; the target group follows
	// to exactly the same offsets (identity: the copy has the source's).
	ends := map[int32]int64{}
	for p, n := range written {
		ends[p.partition] = n
	}
	testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("the source group to commit %v", ends), func() bool {
		return maps.Equal(r.committed(t), ends)
	})
	testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("the target group to reach %v", ends), func() bool {
		return maps.Equal(m.last(), ends)
	})
	r.stop()
	backwards := m.stop()
	checkRunning(t, []*proc{w})
	logWarnings(t, w)
	for _, b := range backwards {
		t.Errorf("the target group moved backwards: %s", b)
	}
	t.Logf("the target group's offsets polled %d times, %d changes, none backwards", m.polls, m.changes)
	f.check(t, written)
	t.Logf("done in %s", time.Since(began).Round(time.Second))
}

func sumOffsets(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// netns is a network namespace of the test's own, joined to the host by a
// veth pair with a /30 of its own.
type netns struct {
	name           string
	hostIf, nsIf   string
	hostIP, nsIP   string
	prefix, subnet string
}

// newNetns creates the namespace and the link, and removes them with the
// test. Without root or `ip`, it skips the test, or fails it under CI.
func newNetns(t *testing.T) *netns {
	t.Helper()
	unable := func(reason string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("a network namespace is needed and %s (CI=true: not skipped)", reason)
		}
		t.Skipf("a network namespace is needed and %s", reason)
	}
	if os.Geteuid() != 0 {
		unable("the test does not run as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		unable("`ip` (iproute2) is not installed")
	}
	pid := os.Getpid()
	n := &netns{name: fmt.Sprintf("kmirror-test-%d", pid), hostIf: fmt.Sprintf("kmh%d", pid), nsIf: fmt.Sprintf("kmn%d", pid)}
	n.pickSubnet(t, pid)
	// Removed even when a step below fails; deleting the host side of
	// the pair deletes both.
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", n.hostIf).Run()
		_ = exec.Command("ip", "netns", "del", n.name).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", n.name},
		{"link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf},
		{"link", "set", n.nsIf, "netns", n.name},
		{"addr", "add", n.hostIP + "/30", "dev", n.hostIf},
		{"link", "set", n.hostIf, "up"},
		{"-n", n.name, "addr", "add", n.nsIP + "/30", "dev", n.nsIf},
		{"-n", n.name, "link", "set", n.nsIf, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			unable(fmt.Sprintf("`ip %s` failed: %v: %s", strings.Join(args, " "), err, out))
		}
	}
	return n
}

// pickSubnet chooses a /30 in 10.250.0.0/16 from the pid, moving on past
// any the host already has an address in.
func (n *netns) pickSubnet(t *testing.T, pid int) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1 << 14 {
		base := ((pid + i) % (1 << 14)) * 4
		_, subnet, _ := net.ParseCIDR(fmt.Sprintf("10.250.%d.%d/30", base>>8, base&255))
		taken := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && (subnet.Contains(ipn.IP) || ipn.Contains(subnet.IP)) {
				taken = true
			}
		}
		if !taken {
			n.hostIP = fmt.Sprintf("10.250.%d.%d", base>>8, base&255+1)
			n.nsIP = fmt.Sprintf("10.250.%d.%d", base>>8, base&255+2)
			return
		}
	}
	t.Fatal("no free /30 in 10.250.0.0/16")
}

// runWorker starts `kmirror run` inside the namespace and waits until it
// copies.
func (n *netns) runWorker(t *testing.T, config string) *proc {
	t.Helper()
	p := startCmd(t, exec.Command("ip", "netns", "exec", n.name, binary, "run", "-c", config, "--http", ""))
	p.waitFor(t, "running; stop with SIGINT or SIGTERM", 2*time.Minute)
	return p
}

// cut takes the namespace's side of the link down for d, then up again.
// kmirror must not exit meanwhile.
func (n *netns) cut(t *testing.T, d time.Duration, f *faultBed) {
	t.Helper()
	link := func(state string) {
		t.Helper()
		if out, err := exec.Command("ip", "-n", n.name, "link", "set", n.nsIf, state).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s link set %s %s: %v: %s", n.name, n.nsIf, state, err, out)
		}
	}
	link("down")
	restored := false
	defer func() {
		if !restored {
			link("up")
		}
	}()
	t.Logf("link cut")
	f.hold(t, d)
	link("up")
	restored = true
	t.Logf("link restored after %s", d)
}

// reader is a consumer of a group on the source that commits as it reads.
type reader struct {
	cl     *kgo.Client
	adm    *kadm.Client
	group  string
	cancel context.CancelFunc
	done   chan struct{}
}

func startReader(t *testing.T, brokers, topic, group string) *reader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitInterval(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &reader{cl: cl, adm: kadm.NewClient(adm), group: group, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	t.Cleanup(func() { r.stop(); adm.Close() })
	return r
}

// stop stops reading, commits what was read and leaves the group.
func (r *reader) stop() {
	r.cancel()
	<-r.done
	r.cl.Close()
}

// committed returns the group's committed offsets on the source.
func (r *reader) committed(t *testing.T) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[int32]int64{}
	fetched, err := r.adm.FetchOffsets(ctx, r.group)
	if err != nil {
		return out
	}
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

// groupWatch polls a group's committed offsets on the target and keeps
// every move backwards.
type groupWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	offsets   map[int32]int64
	polls     int
	changes   int
	backwards []string
}

func watchGroup(t *testing.T, adm *kadm.Client, group, topic string) *groupWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &groupWatch{cancel: cancel, done: make(chan struct{}), offsets: map[int32]int64{}}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			fetched, err := adm.FetchOffsets(pctx, group)
			pcancel()
			if err != nil {
				continue
			}
			m.mu.Lock()
			m.polls++
			fetched.Each(func(o kadm.OffsetResponse) {
				if o.Err != nil || o.Topic != topic {
					return
				}
				prev, seen := m.offsets[o.Partition]
				switch {
				case seen && o.At < prev:
					m.backwards = append(m.backwards, fmt.Sprintf("%s[%d] %d → %d at %s", o.Topic, o.Partition, prev, o.At, time.Now().Format("15:04:05.000")))
				case o.At != prev:
					m.changes++
				}
				m.offsets[o.Partition] = o.At
			})
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { m.stop() })
	return m
}

// last returns the offsets seen last.
func (m *groupWatch) last() map[int32]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.offsets)
}

// stop stops polling and returns the moves backwards seen.
func (m *groupWatch) stop() []string {
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.backwards
}

// waitGroupMoves waits until the watched group's offsets change.
func waitGroupMoves(t *testing.T, m *groupWatch, within time.Duration) {
	t.Helper()
	m.mu.Lock()
	from := m.changes
	m.mu.Unlock()
	testbed.WaitFor(t, within, "the target group's offsets to move", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.changes > from
	})
}
