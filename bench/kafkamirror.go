package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/bench/internal/workload"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/testbed"
)

// The two mirrors of the real-Kafka mode.
const (
	mirrorMM2     = "MirrorMaker 2"
	mirrorKmirror = "kmirror"
)

// benchMirror is one mirror of a run with its own topics and groups, all
// named after its prefix, so that the other mirror never sees them.
type benchMirror struct {
	o      options
	bins   binaries
	jars   string
	bed    kafkaBed
	dir    string
	name   string
	prefix string
	// topic is loaded and caught up on, then carries the steady load;
	// syncTopic carries the group-sync samples, cutTopic the cutover.
	topic, syncTopic, cutTopic string
	cutPartitions              int
	// cfg is kmirror's configuration; clients is the same clusters with
	// default client settings, for the harness's own producers and
	// consumers (loading, steady load), so that the seed's linger and
	// compression apply to the mirrors only.
	cfg, clients string
	src, tgt     *kgo.Client
	sadm, tadm   *kadm.Client
	proc         *mirrorProc
}

// mirrorProc is a running mirror process.
type mirrorProc struct {
	pid    int
	exited func() bool
	stop   func() error
	tail   func() string
	// copying reports whether the process has logged that it starts
	// copying the loaded topic.
	copying func() bool
}

// Lines the mirrors log when they start copying: kmirror's per topic,
// MM2's when a MirrorSourceTask has been initialised and starts polling.
const (
	mm2Copying     = "Source task finished initialization and start"
	mm2CopyingTask = "MirrorSourceConnector"
)

// logWatch reports whether a growing file holds a line with every one of
// words, reading only what was added since its last call.
func logWatch(path string, words ...string) func() bool {
	var off int64
	var partial string
	found := false
	return func() bool {
		if found {
			return true
		}
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		buf, err := io.ReadAll(io.NewSectionReader(f, off, 1<<40))
		if err != nil {
			return false
		}
		off += int64(len(buf))
		lines := strings.Split(partial+string(buf), "\n")
		partial = lines[len(lines)-1]
		for _, l := range lines[:len(lines)-1] {
			all := true
			for _, w := range words {
				all = all && strings.Contains(l, w)
			}
			if all {
				found = true
				return true
			}
		}
		return false
	}
}

func newBenchMirror(ctx context.Context, o options, bins binaries, jars string, bed kafkaBed, dir, name string) (*benchMirror, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	prefix := "km"
	if name == mirrorMM2 {
		prefix = "mm2"
	}
	m := &benchMirror{o: o, bins: bins, jars: jars, bed: bed, dir: dir, name: name, prefix: prefix,
		topic: prefix + "-bench", syncTopic: prefix + "-sync", cutTopic: prefix + "-cut",
		cutPartitions: min(o.spec.Partitions, cutPartitionsMax),
		cfg:           filepath.Join(dir, "kmirror.yaml"), clients: filepath.Join(dir, "clients.yaml")}
	var err error
	if m.src, err = kgo.NewClient(kgo.SeedBrokers(strings.Split(bed.src.Addr, ",")...)); err != nil {
		return nil, err
	}
	if m.tgt, err = kgo.NewClient(kgo.SeedBrokers(strings.Split(bed.tgt.Addr, ",")...)); err != nil {
		m.src.Close()
		return nil, err
	}
	m.sadm, m.tadm = kadm.NewClient(m.src), kadm.NewClient(m.tgt)
	if err := m.writeConfigs(); err != nil {
		m.close()
		return nil, err
	}
	// Every topic exists before the mirror starts, so that neither has to
	// discover one while it is measured (MM2 would restart its tasks).
	for topic, parts := range map[string]int{m.topic: o.spec.Partitions, m.syncTopic: syncPartitions, m.cutTopic: m.cutPartitions} {
		resp, err := m.sadm.CreateTopic(ctx, int32(parts), 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			m.close()
			return nil, fmt.Errorf("create %s on the source: %w", topic, err)
		}
	}
	// So are the groups, as in a migration, where the mirror knows them
	// long before they switch (discovering one costs MM2 a restart of its
	// checkpoint tasks).
	for group, topic := range m.groups() {
		zero := map[int32]int64{0: 0}
		// Until the new topic's leader is known, the commit is refused.
		if err := m.poll(ctx, "commit of "+group, 30*time.Second, func() (bool, error) {
			err := commit(ctx, m.sadm, group, topic, zero)
			return err == nil, err
		}); err != nil {
			m.close()
			return nil, fmt.Errorf("create group %s on the source: %w", group, err)
		}
	}
	return m, nil
}

func (m *benchMirror) close() {
	if m.proc != nil {
		_ = m.proc.stop()
		m.proc = nil
	}
	m.src.Close()
	m.tgt.Close()
}

// writeConfigs writes kmirror's configuration and the clients'.
func (m *benchMirror) writeConfigs() error {
	srcKeys, tgtKeys, flowKeys, err := splitSet(m.o.set)
	if err != nil {
		return err
	}
	src, tgt := m.alias("source"), m.alias("target")
	clusters := func(srcKeys, tgtKeys []string) string {
		return fmt.Sprintf(`connectCluster: %s
clusters:
  - alias: %s
    bootstrapServers: %s
%s  - alias: %s
    bootstrapServers: %s
%smirrors:
  - sourceCluster: %s
    targetCluster: %s
    topicsPattern: %q
`, tgt, src, m.bed.src.Addr, section(srcKeys), tgt, m.bed.tgt.Addr, section(tgtKeys), src, tgt, m.topics())
	}
	mirror := fmt.Sprintf(`    groupsPattern: %q
    sourceConnector:
      config:
        replication.policy.class: identity
        offset-syncs.topic.location: target
        tasks.max: %d
%s    checkpointConnector:
      config:
        sync.group.offsets.enabled: "true"
        sync.group.offsets.interval.seconds: %d
        emit.checkpoints.interval.seconds: %d
        refresh.groups.interval.seconds: 1
`, m.prefix+"-.*", m.o.tasks, strings.Join(flowKeys, ""), int(syncInterval.Seconds()), int(syncInterval.Seconds()))
	if err := os.WriteFile(m.cfg, []byte(clusters(srcKeys, tgtKeys)+mirror), 0o600); err != nil {
		return err
	}
	plain := `    sourceConnector:
      config:
        replication.policy.class: identity
`
	// In exactly-once mode the harness's consumers read what is
	// committed, as a migrated application would.
	for _, k := range flowKeys {
		if strings.Contains(k, config.KeyExactlyOnceSource+":") {
			plain += k
		}
	}
	return os.WriteFile(m.clients, []byte(clusters(nil, nil)+plain), 0o600)
}

// alias names a cluster after the mirror ("source-mm2"), so that the two
// mirrors' internal topics (offset syncs, checkpoints, MM2's Connect
// topics) never mix: MM2 cannot read the offset syncs kmirror writes in its
// own format.
func (m *benchMirror) alias(side string) string { return side + "-" + m.prefix }

// groups are the mirror's source groups and their topics.
func (m *benchMirror) groups() map[string]string {
	return map[string]string{m.syncGroup(): m.syncTopic, m.cutGroup(groupCaught): m.cutTopic, m.cutGroup(groupLagging): m.cutTopic}
}

func (m *benchMirror) syncGroup() string { return m.prefix + "-sync-g" }

func (m *benchMirror) cutGroup(g string) string {
	if g == groupCaught {
		return m.prefix + "-caught"
	}
	return m.prefix + "-lagging"
}

func (m *benchMirror) topics() string {
	return strings.Join([]string{m.topic, m.syncTopic, m.cutTopic}, ", ")
}

// mm2Properties is the dedicated-mode mm2.properties that does kmirror's
// job: the same topics and groups, the identity policy, offset syncs on
// the target, group offsets checkpointed and synced at the interval
// kmirror uses, tasks.max, and the same producer and consumer settings
// (target.producer.*, source.consumer.*).
func (m *benchMirror) mm2Properties() string {
	var b strings.Builder
	b.WriteString(testbed.MM2Job{Source: m.alias("source"), Target: m.alias("target"), SourceAddr: m.bed.src.Addr, TargetAddr: m.bed.tgt.Addr,
		Topics: m.topics(), Groups: m.prefix + "-.*", TasksMax: m.o.tasks}.Properties())
	for _, kv := range m.o.set {
		k, v, _ := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.HasPrefix(k, "producer."):
			k = m.alias("target") + "." + k
		case strings.HasPrefix(k, "consumer."):
			k = m.alias("source") + "." + k
		}
		fmt.Fprintf(&b, "%s = %s\n", k, v)
	}
	return b.String()
}

// start starts the mirror's process.
func (m *benchMirror) start() error {
	if m.name == mirrorMM2 {
		mm, err := testbed.LaunchMM2(m.mm2Properties(), testbed.MM2Options{Dir: m.dir, Jars: m.jars, Heap: mm2Heap})
		if err != nil {
			return err
		}
		m.proc = &mirrorProc{pid: mm.Pid(), exited: mm.Exited, tail: func() string { return mm.Tail(40) },
			copying: logWatch(mm.Log, mm2CopyingTask, mm2Copying),
			stop: func() error {
				if !mm.Stop(time.Minute) {
					mm.Kill()
					return errors.New("MirrorMaker 2 did not stop within a minute of SIGTERM")
				}
				return nil
			}}
		return nil
	}
	p, err := startProc("kmirror run", nil, m.bins.kmirror, "run", "-c", m.cfg, "--http", "")
	if err != nil {
		return err
	}
	m.proc = &mirrorProc{pid: p.cmd.Process.Pid, tail: p.tail,
		copying: func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, l := range p.log {
				if strings.Contains(l, "msg=copying") && strings.Contains(l, "topic="+m.topic+" ") {
					return true
				}
			}
			return false
		},
		exited: func() bool {
			select {
			case <-p.done:
				return true
			default:
				return false
			}
		},
		stop: func() error {
			err := p.stop(time.Minute)
			p.mu.Lock()
			out := strings.Join(append(append([]string(nil), p.out...), p.log...), "\n") + "\n"
			p.mu.Unlock()
			f, ferr := os.OpenFile(filepath.Join(m.dir, "kmirror.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if ferr == nil {
				_, _ = f.WriteString(out)
				f.Close()
			}
			return err
		}}
	return nil
}

// stop stops the mirror cleanly.
func (m *benchMirror) stop() error {
	p := m.proc
	m.proc = nil
	if err := p.stop(); err != nil {
		return fmt.Errorf("%s did not stop cleanly: %w\n%s", m.name, err, p.tail())
	}
	return nil
}

// poll calls cond every 10 ms until it holds, failing when the mirror
// exits or within passes.
func (m *benchMirror) poll(ctx context.Context, what string, within time.Duration, cond func() (bool, error)) error {
	return m.wait(what, within, nil).until(ctx, func(context.Context) (bool, error) { return cond() })
}

// wait is a wait of within for what, that quits when the mirror exits.
func (m *benchMirror) wait(what string, within time.Duration, progress func() string) wait {
	return wait{what: what, within: within, progress: progress, quit: func() error {
		if m.proc != nil && m.proc.exited() {
			return fmt.Errorf("%s exited:\n%s", m.name, m.proc.tail())
		}
		return nil
	}}
}

// catchUp loads the source topic, starts the mirror and times it from the
// line it logs when it starts copying (kmirror: "copying" for the topic;
// MM2: its first MirrorSourceTask "finished initialization and start")
// until the target holds every record; the mirror is then stopped. MM2's
// JVM and Connect start, and kmirror's start, are left out alike.
func (m *benchMirror) catchUp(ctx context.Context) (*mirrorFigures, error) {
	o := m.o
	o.logf("  %s: loading %d records into %s", m.name, o.spec.Records, m.topic)
	args := []string{"-mode", "produce", "-c", m.clients, "-records", strconv.Itoa(o.spec.Records),
		"-size", strconv.Itoa(o.spec.Size), "-partitions", strconv.Itoa(o.spec.Partitions), "-keys", o.spec.Keys,
		"-to", m.topic, "-produce-to-source", "-seed", "1"}
	load, err := client(ctx, m.bins.client, append(args, o.sourceArgs()...)...)
	if err != nil {
		return nil, fmt.Errorf("load the source: %w", err)
	}
	o.logf("  %s: start", m.name)
	if err := m.start(); err != nil {
		return nil, err
	}
	want := int64(o.spec.Records)
	check, err := newCopyCheck(ctx, m.topic, m.src.Opts(), m.tgt.Opts(), m.sadm, m.tadm)
	if err != nil {
		return nil, err
	}
	if err := m.poll(ctx, "start of the copy", 5*time.Minute, func() (bool, error) { return m.proc.copying(), nil }); err != nil {
		return nil, err
	}
	t0, b0 := time.Now(), m.bed.brokersCPU()
	u0, _ := usageOf(m.proc.pid)
	if err := m.wait("whole catch-up", catchUpWithin, check.progress).until(ctx, check.done); err != nil {
		return nil, err
	}
	el := time.Since(t0)
	u1, _ := usageOf(m.proc.pid)
	b1 := m.bed.brokersCPU()
	f := &mirrorFigures{catchUp: workload.Result{Records: want, Bytes: load.Bytes, Seconds: el.Seconds(),
		CPUSeconds: (u1.CPU - u0.CPU).Seconds(), MaxRSS: u1.MaxRSS, BrokerCPUSeconds: (b1 - b0).Seconds()}}
	o.logf("    %.0f records/s, %.1f s, %.2f CPU-s, peak RSS %d MiB, brokers %.2f CPU-s", rate(f.catchUp), el.Seconds(),
		f.catchUp.CPUSeconds, u1.MaxRSS>>20, f.catchUp.BrokerCPUSeconds)
	return f, m.stop()
}

// live restarts the mirror on its topics and measures what needs it
// running: the latency under a steady load, the group sync delay and the
// cutover accuracy.
func (m *benchMirror) live(ctx context.Context, f *mirrorFigures, steadyRate float64) error {
	o := m.o
	o.logf("  %s: restart", m.name)
	if err := m.start(); err != nil {
		return err
	}
	// Copying again: a record per partition of the sync topic comes over.
	if err := m.produceSync(ctx, 1); err != nil {
		return err
	}
	if err := m.waitCopied(ctx, m.syncTopic, 5*time.Minute); err != nil {
		return err
	}
	if o.steady > 0 {
		o.logf("  %s: steady load at %.0f records/s for %s", m.name, steadyRate, o.steady)
		args := []string{"-mode", "steady", "-c", m.clients, "-from", m.topic, "-to", m.topic,
			"-size", strconv.Itoa(o.spec.Size), "-partitions", strconv.Itoa(o.spec.Partitions), "-keys", o.spec.Keys,
			"-rate", strconv.FormatFloat(steadyRate, 'f', 0, 64), "-duration", o.steady.String(), "-seed", "4"}
		r, err := client(ctx, m.bins.client, append(args, o.sourceArgs()...)...)
		if err != nil {
			return fmt.Errorf("steady load: %w", err)
		}
		r.Target = steadyRate
		f.steady = &r
		o.logf("    achieved %.0f records/s; latency p50 %s, p99 %s, max %s", r.Rate, r.P50, r.P99, r.Max)
	}
	if o.copyOnly {
		return m.stop()
	}
	var err error
	if f.sync, err = m.syncDelay(ctx); err != nil {
		return fmt.Errorf("group sync delay: %w", err)
	}
	if f.cut, err = m.cutover(ctx); err != nil {
		return fmt.Errorf("cutover: %w", err)
	}
	return m.stop()
}
