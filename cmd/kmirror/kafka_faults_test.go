package main_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
)

// Broker faults on a three-node Apache Kafka cluster (issue #13). The
// cluster is both the source and the target of the flow (the default
// replication policy writes src.faults next to faults), so that each fault
// hits both sides at once while three JVMs are enough. Every topic has
// three replicas and min.insync.replicas 2; kmirror writes with its
// default acks=all. A steady producer writes to the source throughout;
// after each fault the copy must resume by itself, and at the end every
// target partition must equal its source partition: nothing lost, nothing
// repeated, in order.
func TestBrokerFaults(t *testing.T) {
	needsKafka(t, "broker faults on a 3-node cluster")
	began := time.Now()
	k := testbed.StartKafka(t, testbed.KafkaOptions{Nodes: 3, Config: map[string]string{"min.insync.replicas": "2"}})
	c := &bedCluster{Brokers: k.Brokers, kafka: k}
	const (
		topic      = "faults"
		partitions = 6
		rate       = 300 // records a second
	)
	target := "fsrc." + topic
	c.createTopic(t, topic, partitions, nil)
	var parts []tp
	for p := range int32(partitions) {
		parts = append(parts, tp{topic, p})
	}
	cfg := flowConfig(t, side{alias: "fsrc", addr: k.Addr}, side{alias: "ftgt", addr: k.Addr}, `    topicsPattern: "faults"
    sourceConnector:
      config:
        refresh.topics.interval.seconds: 1
`)
	l := startLoad(t, firstAddr(k.Addr), parts, rate)
	w := runWorker(t, cfg)
	f := newFaultBed(t, c, c, w, l, topic, target)
	f.progress(t, "start")

	t.Run("leader killed and restarted", func(t *testing.T) {
		// The broker that coordinates kmirror's workers and leads target
		// partitions: kmirror loses its lease while produce requests to
		// that leader are in flight, and must not let them land after it
		// resumed (it did: 30 duplicates on Kafka 4.3.1).
		n, led := f.coordinatorLeading(t, "kmirror.fsrc.ftgt", target)
		t.Logf("SIGKILL node %d, the workers' group coordinator and leader of %s%v", n.ID, target, led)
		n.Kill()
		f.progress(t, fmt.Sprintf("node %d down", n.ID))
		n.Restart(t)
		f.progress(t, fmt.Sprintf("node %d restarted", n.ID))
		f.fullISR(t)
	})
	t.Run("leader frozen for 20s", func(t *testing.T) {
		n := f.leaderOf(t, target, 1)
		t.Logf("SIGSTOP node %d, leader of %s[1]", n.ID, target)
		n.Freeze()
		thawed := false
		defer func() {
			if !thawed {
				n.Thaw()
			}
		}()
		f.hold(t, 20*time.Second)
		n.Thaw()
		thawed = true
		f.progress(t, fmt.Sprintf("node %d thawed", n.ID))
		f.fullISR(t)
	})
	t.Run("leaders moved by reassignment", func(t *testing.T) {
		moved := f.moveLeaders(t)
		t.Logf("moved the leaders of %d partitions", moved)
		f.progress(t, "leaders moved")
	})

	written := finishLoad(t, f.l, 0)
	f.progress(t, "the producer stopped")
	checkRunning(t, []*proc{w})
	logWarnings(t, w)
	f.check(t, written)
	t.Logf("done in %s", time.Since(began).Round(time.Second))
}

// faultBed is what the phases of a fault test share: the flow's source
// and target clusters (the same one in TestBrokerFaults), the kmirror
// process and the producer.
type faultBed struct {
	src, tgt       *bedCluster
	srcAdm, tgtAdm *kadm.Client // one client each for every poll
	tgtCl          *kgo.Client
	w              *proc
	l              *load
	source, target string // the topic and its copy
}

func newFaultBed(t *testing.T, src, tgt *bedCluster, w *proc, l *load, source, target string) *faultBed {
	t.Helper()
	tgtCl := tgt.Client(t)
	return &faultBed{src: src, tgt: tgt, srcAdm: src.admin(t), tgtAdm: kadm.NewClient(tgtCl), tgtCl: tgtCl, w: w, l: l, source: source, target: target}
}

// firstAddr is the first address of a bootstrap list: the test's load
// takes one seed and learns the other brokers from it.
func firstAddr(addrs string) string {
	a, _, _ := strings.Cut(addrs, ",")
	return a
}

// progress waits until the target holds everything the source held when
// it was called, failing the test if kmirror or the producer stopped.
func (f *faultBed) progress(t *testing.T, after string) {
	t.Helper()
	began := time.Now()
	var want map[int32]int64
	testbed.WaitFor(t, 2*time.Minute, "the source's end offsets", func() bool {
		want = ends(f.srcAdm, f.source)
		return want != nil
	})
	total := int64(0)
	for _, n := range want {
		total += n
	}
	testbed.WaitFor(t, 3*time.Minute, fmt.Sprintf("the target to reach %v (%s)", want, after), func() bool {
		checkRunning(t, []*proc{f.w})
		if _, err := f.l.progress(); err != nil {
			t.Fatal(err)
		}
		got := ends(f.tgtAdm, f.target)
		if got == nil || len(got) != len(want) {
			return false
		}
		for p, n := range want {
			if got[p] < n {
				return false
			}
		}
		return true
	})
	t.Logf("%s: the target reached the source's %d records in %s", after, total, time.Since(began).Round(100*time.Millisecond))
}

// ends returns the end offset of every partition of a topic, or nil
// while one is unknown (its leader moving).
func ends(adm *kadm.Client, topic string) map[int32]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || len(ends[topic]) == 0 {
		return nil
	}
	out := map[int32]int64{}
	for _, o := range ends[topic] {
		if o.Err != nil {
			return nil
		}
		out[o.Partition] = o.Offset
	}
	return out
}

// hold lets a fault last d, failing the test at once if kmirror exits.
func (f *faultBed) hold(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-f.w.done:
		t.Fatalf("kmirror exited (%v):\n%s", f.w.err, f.w.output())
	case <-time.After(d):
	}
}

// leaderOf returns the node that leads a partition.
// coordinatorLeading returns the node that coordinates group and the
// partitions of topic it leads; when it leads none, the leader of
// partition 0 instead.
func (f *faultBed) coordinatorLeading(t *testing.T, group, topic string) (*testbed.Node, []int32) {
	t.Helper()
	var coordinator int32 = -1
	testbed.WaitFor(t, time.Minute, "the coordinator of "+group, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, ok := f.tgtAdm.FindGroupCoordinators(ctx, group)[group]
		if ok && r.Err == nil {
			coordinator = r.NodeID
		}
		return coordinator >= 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	parts, err := f.metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var led []int32
	for p, md := range parts {
		if md.Leader == coordinator {
			led = append(led, p.partition)
		}
	}
	slices.Sort(led)
	if len(led) == 0 {
		t.Logf("node %d coordinates %s but leads no partition of %s; killing the leader of %s[0]", coordinator, group, topic, topic)
		return f.leaderOf(t, topic, 0), []int32{0}
	}
	for _, n := range f.tgt.kafka.Nodes() {
		if int32(n.ID) == coordinator {
			return n, led
		}
	}
	t.Fatalf("%s is coordinated by node %d, which is not in the cluster", group, coordinator)
	return nil, nil
}

func (f *faultBed) leaderOf(t *testing.T, topic string, partition int32) *testbed.Node {
	t.Helper()
	var leader int32 = -1
	testbed.WaitFor(t, time.Minute, fmt.Sprintf("a leader of %s[%d]", topic, partition), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		parts, err := f.metadata(ctx, topic)
		if err != nil {
			return false
		}
		leader = parts[tp{topic, partition}].Leader
		return leader >= 0
	})
	for _, n := range f.tgt.kafka.Nodes() {
		if int32(n.ID) == leader {
			return n
		}
	}
	t.Fatalf("%s[%d] is led by node %d, which is not in the cluster", topic, partition, leader)
	return nil
}

// fullISR waits until every replica of every partition of the target
// cluster's topics is in sync again, so that the next
// fault starts from a whole cluster.
func (f *faultBed) fullISR(t *testing.T) {
	t.Helper()
	began := time.Now()
	var short []string
	testbed.WaitFor(t, 3*time.Minute, "every replica back in sync", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		parts, err := f.metadata(ctx)
		if err != nil {
			return false
		}
		short = short[:0]
		for p, pd := range parts {
			if len(pd.ISR) < len(pd.Replicas) {
				short = append(short, fmt.Sprintf("%s isr=%v", p, pd.ISR))
			}
		}
		return len(short) == 0
	})
	t.Logf("every replica in sync after %s", time.Since(began).Round(100*time.Millisecond))
}

// moveLeaders reorders the replicas of every partition of the source and
// target topics, which are on one cluster, so that another broker is preferred, waits for the reassignment,
// elects the preferred leaders and waits until every partition is led by
// a new broker. It returns how many partitions it moved.
func (f *faultBed) moveLeaders(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := f.tgtAdm
	topics := []string{f.source, f.target}
	parts, err := f.metadata(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	before := map[tp]int32{}
	set := kadm.TopicsSet{}
	for p, pd := range parts {
		// Rotate the replicas until the first is not the leader.
		r := slices.Clone(pd.Replicas)
		for r[0] == pd.Leader {
			r = append(r[1:], r[0])
		}
		req.Assign(p.topic, p.partition, r)
		before[p] = pd.Leader
		set.Add(p.topic, p.partition)
	}
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("alter partition assignments: %v", err)
	}
	testbed.WaitFor(t, 2*time.Minute, "the reassignment to complete", func() bool {
		ls, err := adm.ListPartitionReassignments(ctx, set)
		return err == nil && len(ls) == 0
	})
	elected, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		t.Fatalf("elect preferred leaders: %v", err)
	}
	for _, ps := range elected {
		for _, r := range ps {
			if r.Err != nil {
				t.Errorf("elect the preferred leader of %s[%d]: %v", r.Topic, r.Partition, r.Err)
			}
		}
	}
	testbed.WaitFor(t, 2*time.Minute, "every partition led by another broker", func() bool {
		parts, err := f.metadata(ctx, topics...)
		if err != nil {
			return false
		}
		for p, old := range before {
			if l := parts[p].Leader; l == old || l < 0 {
				return false
			}
		}
		return true
	})
	return len(before)
}

// metadata asks a target broker for the partitions of topics (every
// topic with none): kadm's Metadata may answer from its client's cache.
func (f *faultBed) metadata(ctx context.Context, topics ...string) (map[tp]kmsg.MetadataResponseTopicPartition, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, topic := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, f.tgtCl)
	if err != nil {
		return nil, err
	}
	out := map[tp]kmsg.MetadataResponseTopicPartition{}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil || rt.Topic == nil {
			return nil, fmt.Errorf("metadata of %v: %w", rt.Topic, err)
		}
		for _, rp := range rt.Partitions {
			out[tp{*rt.Topic, rp.Partition}] = rp
		}
	}
	return out, nil
}

// check compares every partition of the target with the source: every
// record written reached the target once, in order, the same.
func (f *faultBed) check(t *testing.T, written map[tp]int64) {
	t.Helper()
	var total copyReport
	for p, n := range written {
		src := f.src.Read(t, f.source, p.partition)
		tgt := f.tgt.Read(t, f.target, p.partition)
		if int64(len(src)) != n {
			t.Errorf("%s: %d records on the source, %d written", p, len(src), n)
		}
		for i, r := range src {
			if want := fmt.Sprintf("%s/%d/%d", p.topic, p.partition, i); string(r.Value) != want {
				t.Errorf("%s: source offset %d holds %q, want %q", p, r.Offset, r.Value, want)
				break
			}
		}
		got := make([]int64, len(tgt))
		bad := 0
		for i, r := range tgt {
			got[i] = -1
			rest, ok := strings.CutPrefix(string(r.Value), fmt.Sprintf("%s/%d/", p.topic, p.partition))
			seq, err := strconv.ParseInt(rest, 10, 64)
			if !ok || err != nil || seq >= int64(len(src)) {
				continue
			}
			if err := testbed.SameRecord(src[seq], r); err != nil && bad < 5 {
				bad++
				t.Errorf("%s: target offset %d differs from source offset %d: %v", p, r.Offset, seq, err)
			}
			got[i] = seq
		}
		rep := compareSeqs(int64(len(src)), got)
		if rep.missing+rep.duplicates+rep.jumps+rep.unknown > 0 {
			t.Errorf("%s → %s[%d]: %d missing, %d duplicates (%d rewinds, restarting at %v), %d out of order, %d unknown",
				p, f.target, p.partition, rep.missing, rep.duplicates, rep.rewinds, rep.restarts, rep.jumps, rep.unknown)
		}
		total.add(rep)
	}
	t.Logf("%d records on the source, %d missing, %d duplicates on the target", total.records, total.missing, total.duplicates)
	if total.duplicates+total.missing > 0 {
		// What the worker did when, to tell which fault the copy went
		// wrong at.
		for _, line := range strings.Split(f.w.output(), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "resumed") ||
				strings.Contains(line, "rebalanced") || strings.Contains(line, "msg=copying") {
				t.Log(line)
			}
		}
	}
}

var msgField = regexp.MustCompile(`level=(WARN|ERROR) msg=("[^"]*"|\S+)`)

// logWarnings logs how often kmirror logged each warning and error
// message, for the report of what a fault put it through.
func logWarnings(t *testing.T, w *proc) {
	t.Helper()
	counts := map[string]int{}
	for _, l := range strings.Split(w.output(), "\n") {
		if m := msgField.FindStringSubmatch(l); m != nil {
			counts[m[1]+" "+m[2]]++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		t.Logf("kmirror logged %d× %s", counts[k], k)
	}
}
