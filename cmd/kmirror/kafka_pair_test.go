package main_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/record"
	"github.com/kmirror/kmirror/internal/testbed"
)

// pairDuration is how long producers write on both clusters in
// TestBothWays and TestBothWaysByHeader: $KMIRROR_PAIR_DURATION (a Go
// duration; 3m for the figures in the README), else 8 s.
func pairDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("KMIRROR_PAIR_DURATION")
	if v == "" {
		return 8 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("KMIRROR_PAIR_DURATION: %v", err)
	}
	return d
}

// pairConfig writes a configuration that copies topic both ways between
// a and b under the same name, in exactly-once mode, and returns its path.
// With a group, both flows sync its offsets every second; without, they
// neither sync nor checkpoint.
func pairConfig(t *testing.T, a, b side, topic, group string) string {
	t.Helper()
	groups := `    checkpointConnector:
      config:
        emit.checkpoints.enabled: false
        sync.group.offsets.enabled: false
`
	if group != "" {
		groups = fmt.Sprintf(`    groupsPattern: %q
    checkpointConnector:
      config:
        sync.group.offsets.enabled: "true"
        sync.group.offsets.interval.seconds: 1
        emit.checkpoints.interval.seconds: 1
        refresh.groups.interval.seconds: 1
`, group)
	}
	mirror := func(src, tgt string) string {
		return fmt.Sprintf(`  - sourceCluster: %s
    targetCluster: %s
    topicsPattern: %q
    sourceConnector:
      config:
        replication.policy.class: identity
        transaction.boundary.interval.ms: 200
%s`, src, tgt, topic, groups)
	}
	eos := "    config:\n      exactly.once.source.support: enabled\n"
	text := fmt.Sprintf(`connectCluster: %s
clusters:
  - alias: %s
    bootstrapServers: %s
%s%s  - alias: %s
    bootstrapServers: %s
%s%smirrors:
%s%s`, b.alias, a.alias, a.addr, a.lines, eos, b.alias, b.addr, b.lines, eos, mirror(a.alias, b.alias), mirror(b.alias, a.alias))
	path := filepath.Join(t.TempDir(), "kmirror.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Both directions at once under the same topic names: producers write to
// the same topic on both clusters while kmirror copies it A->B and B->A.
// Each flow tells the records the other wrote on its source by the
// other's exact offset map and does not copy them back, with no header on
// the data: every record produced on either cluster is on both exactly
// once, in order per partition, and no copy comes back (loop count 0);
// verify passes in both directions.
func TestBothWays(t *testing.T) {
	const parts = 3
	a, b := clusters(t)
	topic := uniq(t, "pair-orders")
	aAlias, bAlias := uniq(t, "paira"), uniq(t, "pairb")
	a.createTopic(t, topic, parts, nil)
	b.createTopic(t, topic, parts, nil)
	cfg := pairConfig(t, side{alias: aAlias, addr: a.Addr}, side{alias: bAlias, addr: b.Addr}, topic, "")
	w := runWorker(t, cfg)
	onA := startProducerAs(t, a, topic, parts, "A:", nil)
	onB := startProducerAs(t, b, topic, parts, "B:", nil)
	d := pairDuration(t)
	select {
	case <-w.done:
		t.Fatalf("kmirror exited (%v) while the producers wrote:\n%s", w.err, w.output())
	case <-time.After(d): // the producers write on both clusters meanwhile
	}
	written := map[string]map[int32]int64{"A": onA.stop(t), "B": onB.stop(t)}

	waitOnBoth(t, a, b, topic, written)
	// verify compares both flows, each skipping what the other wrote.
	code, out := runs(t, time.Minute, "verify", "-c", cfg, "--topic", topic)
	if code != 0 || !strings.Contains(out, "flow "+aAlias+"->"+bAlias) || !strings.Contains(out, "flow "+bAlias+"->"+aAlias) {
		t.Fatalf("verify exited %d, want 0 for both flows:\n%s", code, out)
	}
	t.Logf("verify:\n%s", out)
	var total int64
	for _, byPart := range written {
		for _, n := range byPart {
			total += n
		}
	}
	t.Logf("%s of producers on both clusters: %d records written (A %v, B %v); each on both clusters exactly once, in order; 0 came back",
		d, total, written["A"], written["B"])
	stopWorker(t, w)
}

// Both directions under the same names from two separate configurations
// (as two Strimzi resources, one per target), in the default mode, with
// provenance.header.enabled: each flow stamps its copies with the source
// cluster's id and skips the records stamped with its target's, so no
// copy comes back though neither flow knows the other. The copies carry
// the header, the records written on each cluster do not; verify passes
// for both.
func TestBothWaysByHeader(t *testing.T) {
	const parts = 3
	a, b := clusters(t)
	topic := uniq(t, "hdr-orders")
	aAlias, bAlias := uniq(t, "hdra"), uniq(t, "hdrb")
	a.createTopic(t, topic, parts, nil)
	b.createTopic(t, topic, parts, nil)
	mirror := fmt.Sprintf(`    topicsPattern: %q
    sourceConnector:
      config:
        replication.policy.class: identity
        provenance.header.enabled: true
    checkpointConnector:
      config:
        emit.checkpoints.enabled: false
`, topic)
	sa, sb := side{alias: aAlias, addr: a.Addr}, side{alias: bAlias, addr: b.Addr}
	cfgAB, cfgBA := flowConfig(t, sa, sb, mirror), flowConfig(t, sb, sa, mirror)
	wAB, wBA := runWorker(t, cfgAB), runWorker(t, cfgBA)
	onA := startProducerAs(t, a, topic, parts, "A:", nil)
	onB := startProducerAs(t, b, topic, parts, "B:", nil)
	select {
	case <-wAB.done:
		t.Fatalf("kmirror exited (%v):\n%s", wAB.err, wAB.output())
	case <-wBA.done:
		t.Fatalf("kmirror exited (%v):\n%s", wBA.err, wBA.output())
	case <-time.After(pairDuration(t)):
	}
	written := map[string]map[int32]int64{"A": onA.stop(t), "B": onB.stop(t)}
	waitOnBoth(t, a, b, topic, written)
	// The copies on B carry A's id, B's own records nothing.
	recs, err := readTopic(t.Context(), b.Addr, topic)
	if err != nil {
		t.Fatal(err)
	}
	aID := a.admin(t)
	md, err := aID.BrokerMetadata(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for p, rs := range recs {
		for _, r := range rs {
			if r.Attrs.IsControl() {
				continue
			}
			v, stamped := record.Origin(r)
			if copied := strings.HasPrefix(string(r.Value), "A:"); copied != stamped || stamped && string(v) != md.Cluster {
				t.Fatalf("B %s[%d] offset %d (%q): origin header %q (%v), want A's id %q on copies only", topic, p, r.Offset, r.Value, v, stamped, md.Cluster)
			}
		}
	}
	for _, cfg := range []string{cfgAB, cfgBA} {
		if code, out := runs(t, time.Minute, "verify", "-c", cfg, "--topic", topic); code != 0 {
			t.Errorf("verify exited %d:\n%s", code, out)
		}
	}
	stopWorker(t, wAB)
	stopWorker(t, wBA)
}

// waitOnBoth waits until both clusters hold every record written
// (cluster → partition → count) exactly once, in order per partition and
// origin.
func waitOnBoth(t *testing.T, a, b *bedCluster, topic string, written map[string]map[int32]int64) {
	t.Helper()
	testbed.WaitUntil(t, 2*time.Minute, "every record on both clusters, once", func() error {
		var errs []error
		for name, c := range map[string]*bedCluster{"A": a, "B": b} {
			got, err := readOrigins(t.Context(), c.Addr, topic)
			if err == nil {
				err = exactlyOnce(got, written)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("on %s: %w", name, err))
			}
		}
		return errors.Join(errs...)
	})
}

// origin is one record of TestBothWays: the cluster it was produced on and
// its sequence number in its partition there.
type origin struct {
	cluster string
	seq     int64
}

// readOrigins reads a topic's committed records and returns their origins
// by partition, in order.
func readOrigins(ctx context.Context, brokers, topic string) (map[int32][]origin, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	recs, err := readTopic(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32][]origin{}
	for p, rs := range recs {
		for _, r := range rs {
			if r.Attrs.IsControl() {
				continue
			}
			cl, rest, ok1 := strings.Cut(string(r.Value), ":")
			_, seq, ok2 := strings.Cut(rest, "/")
			n, err := strconv.ParseInt(seq, 10, 64)
			if !ok1 || !ok2 || err != nil {
				return nil, fmt.Errorf("partition %d offset %d: value %q is not cluster:partition/seq", p, r.Offset, r.Value)
			}
			out[p] = append(out[p], origin{cl, n})
		}
	}
	return out, nil
}

// exactlyOnce says what is wrong with got, the records of one cluster, if
// it does not hold every record written (cluster → partition → count)
// exactly once and in order per partition and origin.
func exactlyOnce(got map[int32][]origin, written map[string]map[int32]int64) error {
	for cl, byPart := range written {
		for p, n := range byPart {
			next := int64(0)
			for _, o := range got[p] {
				if o.cluster != cl {
					continue
				}
				if o.seq != next {
					return fmt.Errorf("partition %d: record %s #%d where #%d was due (%d of %d seen)", p, cl, o.seq, next, next, n)
				}
				next++
			}
			if next != n {
				return fmt.Errorf("partition %d: %d of the %d records written on %s", p, next, n, cl)
			}
		}
	}
	return nil
}

// The seed's migration there and back with the way back configured (A->B
// and B->A under the same names, exactly-once mode, group offsets synced
// both ways), with a producer writing throughout, on one cluster at a
// time, and a consumer group switching at every step:
//
//  1. consumers on A; (b) stopped, `migrate ready`; (c) started on B;
//  2. (d) producers stop on A, `migrate failover --to B` drains both
//     ways, they start on B (B->A copies what they write back to A);
//  3. consumers back: stopped on B, `migrate rollback`, started on A;
//  4. producers back: stop on B, `migrate failover --to A`, start on A;
//  5. forward again: consumers stopped on A, `migrate ready`, started on
//     B, until the producer stops.
//
// Across the four consumer phases every record is processed exactly once
// and in order on every partition, and each phase starts at the record
// after the last one of the phase before.
func TestMigrationThereAndBack(t *testing.T) {
	t.Logf("bed: %s", bedName())
	for _, c := range switchClients[:2] { // franz-go and librdkafka
		t.Run(c.name, func(t *testing.T) { thereAndBack(t, c) })
	}
}

func thereAndBack(t *testing.T, c switchClient) {
	const parts = 3
	if why := c.skip("classic"); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s under CI: %s", c.name, why)
		}
		t.Skip(why)
	}
	a, b := clusters(t)
	topic, group := uniq(t, "tb-orders"), uniq(t, "tb-app")
	aAlias, bAlias := uniq(t, "tba"), uniq(t, "tbb")
	a.createTopic(t, topic, parts, nil)
	b.createTopic(t, topic, parts, nil)
	cfg := pairConfig(t, side{alias: aAlias, addr: a.Addr}, side{alias: bAlias, addr: b.Addr}, topic, group)
	w := runWorker(t, cfg)
	consume := func(on *bedCluster, reset string, least int) *switchRun {
		t.Helper()
		r := c.start(t, on.Addr, group, topic, "classic", reset, "read_committed")
		testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("the consumer to process %d records of every partition on %s", least, on.Addr), func() bool {
			return everyPartition(r.seen(), parts, least)
		})
		return r
	}
	moveProducers := func(from *liveProducer, to *bedCluster, alias string) *liveProducer {
		t.Helper()
		next := from.stop(t)
		code, out := runs(t, 3*time.Minute, "migrate", "failover", "-c", cfg, "--to", alias, "--topic", topic, "--timeout", "2m", "--quiet-window", "2s")
		if code != 0 || !strings.Contains(out, "drained both ways") {
			t.Fatalf("migrate failover --to %s exited %d:\n%s", alias, code, out)
		}
		return startProducerAs(t, to, topic, parts, "", next)
	}
	waitExit := func(what string, args ...string) string {
		t.Helper()
		var out string
		testbed.WaitUntil(t, 2*time.Minute, what, func() error {
			var code int
			if code, out = runs(t, time.Minute, args...); code != 0 {
				return fmt.Errorf("exit %d:\n%s", code, out)
			}
			return nil
		})
		return out
	}

	prod := startProducerAs(t, a, topic, parts, "", nil)
	// 1. Consumers on A, then on B.
	onA := consume(a, "earliest", 20)
	onA.stop(t)
	waitExit("migrate ready to exit 0", "migrate", "ready", "-c", cfg, "--group", group)
	onB := consume(b, "latest", 10)
	// 2. Producers to B.
	prod = moveProducers(prod, b, bAlias)
	testbed.WaitFor(t, 2*time.Minute, "the consumer on B to process records written on B", func() bool {
		return everyPartition(onB.seen(), parts, 30)
	})
	// 3. Consumers back to A.
	onB.stop(t)
	out := waitExit("migrate rollback to exit 0", "migrate", "rollback", "-c", cfg, "--group", group)
	t.Logf("migrate rollback:\n%s", out)
	backOnA := consume(a, "latest", 10)
	// 4. Producers back to A.
	prod = moveProducers(prod, a, aAlias)
	testbed.WaitFor(t, 2*time.Minute, "the consumer on A to process records written on A again", func() bool {
		return everyPartition(backOnA.seen(), parts, 30)
	})
	// 5. Forward again.
	backOnA.stop(t)
	waitExit("migrate ready to exit 0 again", "migrate", "ready", "-c", cfg, "--group", group)
	againOnB := consume(b, "latest", 10)
	written := prod.stop(t)
	testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("the consumer to process everything written (%v)", written), func() bool {
		seen := againOnB.seen()
		for p, n := range written {
			if rs := seen[p]; len(rs) == 0 || rs[len(rs)-1].seq < n-1 {
				return false
			}
		}
		return true
	})
	againOnB.stop(t)
	checkOnce(t, written, onA.seen(), onB.seen(), backOnA.seen(), againOnB.seen())
	code, vout := runs(t, time.Minute, "verify", "-c", cfg, "--topic", topic)
	if code != 0 {
		t.Errorf("verify exited %d:\n%s", code, vout)
	}
	stopWorker(t, w)
}
