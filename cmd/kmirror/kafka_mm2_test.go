package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/testbed"
)

// MirrorMaker 2's own code reads what kmirror leaves: its client's
// RemoteClusterUtils.translateOffsets (connect-mirror-client, from the
// Kafka jars) on the target returns exactly the offsets kmirror translated
// and committed to the target group; and, after a hand-back, MM2's
// MirrorCheckpointConnector translates a group committed since from
// kmirror's offset syncs — exactly at the first record of a transaction,
// where kmirror's copies have a gap and it writes a sync — while MM2 copies
// nothing again. The source is written in transactions, so that source and
// target offsets differ by the markers kmirror does not copy, and the
// default replication policy renames the topic. kmirror runs on MM2's own
// properties file.
func TestMM2ReadsCheckpoints(t *testing.T) {
	needsKafka(t, "MirrorMaker 2's RemoteClusterUtils comes with the Kafka jars")
	src, tgt := clusters(t)
	t.Logf("bed: %s", bedName())
	topic, group, alias := uniq(t, "mm2-orders"), uniq(t, "mm2-app"), uniq(t, "mm2src")
	remote := alias + "." + topic
	const parts, txns, each = 3, 4, 10
	src.createTopic(t, topic, parts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	producer := src.Client(t, kgo.TransactionalID(uniq(t, "mm2-producer")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for range txns {
		if err := producer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for p := range int32(parts) {
			for i := range each {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d/%d", p, i)})
			}
		}
		if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		testbed.EndTransaction(t, ctx, producer, true)
	}
	// Each transaction is its records and a marker: the source offset of
	// record i is i + i/each. The group committed the first record of the
	// second transaction, a record inside the third, and the end.
	committed := map[int32]int64{0: each + 1, 1: 2*(each+1) + 3, 2: txns * (each + 1)}
	want := map[int32]int64{0: each, 1: 2*each + 3, 2: txns * each}
	o := kadm.Offsets{}
	for p, at := range committed {
		o.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	if _, err := src.admin(t).CommitOffsets(ctx, group, o); err != nil {
		t.Fatal(err)
	}

	late := uniq(t, "mm2-late")
	srcSide, tgtSide := side{alias: alias, addr: src.Addr}, side{alias: uniq(t, "mm2tgt"), addr: tgt.Addr}
	props := testbed.MM2Job{Source: srcSide.alias, Target: tgtSide.alias, SourceAddr: src.Addr, TargetAddr: tgt.Addr,
		Topics: topic, Groups: group + "|" + late, DefaultPolicy: true}.Properties()
	cfg := filepath.Join(t.TempDir(), "mm2.properties")
	if err := os.WriteFile(cfg, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	w := runWorker(t, cfg)
	// kmirror's translations, as it committed them to the target group.
	synced := map[int32]int64{}
	testbed.WaitFor(t, 2*time.Minute, fmt.Sprintf("the target group to be synced to %v", want), func() bool {
		fetched, err := tgt.admin(t).FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		clear(synced)
		fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.Topic == remote {
				synced[o.Partition] = o.At
			}
		})
		return fmt.Sprint(synced) == fmt.Sprint(want)
	})

	java := javaProgram("TranslateOffsets.java", tgt.Addr, alias, group)
	var stderr strings.Builder
	java.Stderr = &stderr
	out, err := java.Output()
	if err != nil {
		t.Fatalf("TranslateOffsets: %v\n%s%s", err, out, stderr.String())
	}
	got := map[int32]int64{}
	ended := false
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "END":
			ended = true
		case len(f) == 3:
			p, err1 := strconv.ParseInt(f[1], 10, 32)
			at, err2 := strconv.ParseInt(f[2], 10, 64)
			if f[0] != remote || err1 != nil || err2 != nil {
				t.Errorf("translateOffsets returned %q, want partitions of %s", line, remote)
				continue
			}
			got[int32(p)] = at
		}
	}
	if !ended {
		t.Fatalf("TranslateOffsets did not finish:\n%s%s", out, stderr.String())
	}
	t.Logf("source commits %v; RemoteClusterUtils.translateOffsets on %s: %v", committed, remote, got)
	if fmt.Sprint(got) != fmt.Sprint(synced) {
		t.Errorf("RemoteClusterUtils.translateOffsets = %v, kmirror committed %v to the target group", got, synced)
	}
	stopWorker(t, w)

	if code, handBack := runs(t, time.Minute, "migrate", "hand-back", "-c", cfg); code != 0 {
		t.Fatalf("hand-back: exit %d\n%s", code, handBack)
	}
	// A group commits after the hand-back: only MM2 translates it. At the
	// first record of the third and the fourth transaction (source offsets
	// 2*(each+1) and 3*(each+1), target 2*each and 3*each), and inside the
	// second.
	lateAt := map[int32]int64{0: 2 * (each + 1), 1: 3 * (each + 1), 2: each + 1 + 5}
	exact := map[int32]int64{0: 2 * each, 1: 3 * each, 2: each + 5}
	commit(t, ctx, src.admin(t), late, topic, lateAt)
	ends := tgt.EndOffsets(t, remote)
	mm2run := testbed.StartMM2(t, props)
	checkpoints := alias + ".checkpoints.internal"
	translated := map[int32]int64{}
	testbed.WaitFor(t, 2*time.Minute, "MirrorMaker 2's checkpoints of "+late, func() bool {
		if mm2run.Exited() {
			t.Fatalf("MirrorMaker 2 exited; its log is %s", mm2run.Log)
		}
		for _, r := range tgt.Read(t, checkpoints, 0) {
			if c, err := checkpoint.Decode(r.Key, r.Value); err == nil && c.Group == late && c.Topic == remote {
				translated[c.Partition] = c.Downstream
			}
		}
		return len(translated) == parts
	})
	stopMM2(t, mm2run, mm2run.Log, tgtSide, srcSide)
	t.Logf("%s committed %v on the source after the hand-back; MirrorMaker 2's checkpoints from kmirror's syncs: %v (exact: %v)", late, lateAt, translated, exact)
	// Inside a transaction MM2 translates from an earlier sync, which its
	// store keeps sparse (exponentially spaced back from the latest): at
	// most the exact offset, never past it.
	for p, want := range exact {
		if p < 2 && translated[p] != want || translated[p] > want {
			t.Errorf("MirrorMaker 2 translated %s %s[%d] at %d to %d; want %d (at a transaction's first record), or inside one at most that", late, topic, p, lateAt[p], translated[p], want)
		}
	}
	if after := tgt.EndOffsets(t, remote); fmt.Sprint(after) != fmt.Sprint(ends) {
		t.Errorf("MirrorMaker 2 copied again after the hand-back: %s ends at %v, was %v", remote, after, ends)
	}
}
