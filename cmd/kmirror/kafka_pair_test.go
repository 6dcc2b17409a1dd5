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

	"github.com/kmirror/kmirror/internal/testbed"
)

// pairDuration is how long producers write on both clusters in
// TestBothWays: $KMIRROR_PAIR_DURATION (a Go duration; 3m for the
// figures in the README), else 15 s.
func pairDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("KMIRROR_PAIR_DURATION")
	if v == "" {
		return 15 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("KMIRROR_PAIR_DURATION: %v", err)
	}
	return d
}

// pairConfig writes a configuration that copies topic both ways between
// a and b under the same name, in exactly-once mode, and returns its path.
func pairConfig(t *testing.T, a, b side, topic string) string {
	t.Helper()
	mirror := func(src, tgt string) string {
		return fmt.Sprintf(`  - sourceCluster: %s
    targetCluster: %s
    topicsPattern: %q
    sourceConnector:
      config:
        replication.policy.class: identity
        transaction.boundary.interval.ms: 200
    checkpointConnector:
      config:
        emit.checkpoints.enabled: false
        sync.group.offsets.enabled: false
`, src, tgt, topic)
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
	cfg := pairConfig(t, side{alias: aAlias, addr: a.Addr}, side{alias: bAlias, addr: b.Addr}, topic)
	w := runWorker(t, cfg)
	onA := startProducerAs(t, a, topic, parts, "A:")
	onB := startProducerAs(t, b, topic, parts, "B:")
	d := pairDuration(t)
	select {
	case <-w.done:
		t.Fatalf("kmirror exited (%v) while the producers wrote:\n%s", w.err, w.output())
	case <-time.After(d): // the producers write on both clusters meanwhile
	}
	written := map[string]map[int32]int64{"A": onA.stop(t), "B": onB.stop(t)}

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
