package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/progress/progresstest"
	"github.com/kmirror/kmirror/internal/testbed"
	"github.com/kmirror/kmirror/internal/verify"
)

// verifyBed is a source and a target cluster with a configuration file
// whose flow copies the topics orders and late.
type verifyBed struct {
	src, tgt *testbed.Cluster
	path     string
	cfg      *config.Config
}

func newVerifyBed(t *testing.T) *verifyBed {
	t.Helper()
	b := &verifyBed{src: testbed.NewCluster(t), tgt: testbed.NewCluster(t)}
	dir := t.TempDir()
	testbed.WriteFiles(t, dir, map[string][]byte{"kmirror.yaml": []byte(testbed.NativeConfig(b.src, b.tgt, `    topicsPattern: "orders, late"`))})
	b.path = filepath.Join(dir, "kmirror.yaml")
	cfg, err := config.Load(b.path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.cfg = cfg
	return b
}

// produce writes n records to each partition of topic, with
// deterministic keys, values and headers.
func (b *verifyBed) produce(t *testing.T, topic string, partitions int32, n int) {
	t.Helper()
	ts := time.Now().Add(-time.Hour).Truncate(time.Second)
	var recs []*kgo.Record
	for i := range n * int(partitions) {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Key: []byte{byte('a' + i%5)},
			Value: []byte(strings.Repeat("v", i)), Headers: []kgo.RecordHeader{{Key: "n", Value: []byte{byte(i)}}}, Timestamp: ts})
	}
	b.src.Produce(t, recs)
}

// mirror runs the copy path until the topics are copied to the source's
// current end, then stops it cleanly.
func (b *verifyBed) mirror(t *testing.T, topics ...string) {
	t.Helper()
	want := map[progress.Partition]int64{}
	for _, topic := range topics {
		for p, end := range b.src.EndOffsets(t, topic) {
			want[progress.Partition{Topic: topic, Partition: p}] = end
		}
	}
	f := b.cfg.Flows[0]
	fl := mirror.NewFlow(f, b.cfg.Cluster(f.Source), b.cfg.Cluster(f.Target), nil, slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the flow stopped with %v", err)
		}
	}()
	testbed.WaitFor(t, 30*time.Second, "the topics copied", func() bool {
		parts, _, _ := fl.Status()
		n := 0
		for _, p := range parts {
			if end, ok := want[progress.Partition{Topic: p.Topic, Partition: p.Partition}]; ok && p.Next >= end {
				n++
			}
		}
		return n == len(want)
	})
}

// tamper leaves one of each mismatch on a mirrored orders topic: a stray
// record on the target that the mirror then copies past (extra), a copy
// whose value differs, recorded in the stored offset map as a faulty copy
// path would (altered), and three copies deleted on the target (missing).
func (b *verifyBed) tamper(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b.tgt.Produce(t, []*kgo.Record{{Topic: "source.orders", Partition: 0, Value: []byte("stray")}})
	b.produce(t, "orders", 2, 2)
	b.mirror(t, "orders")

	f := b.cfg.Flows[0]
	src, tgt := b.cfg.Cluster(f.Source), b.cfg.Cluster(f.Target)
	stored, err := progress.Read(ctx, f, src, tgt, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tp := progress.Partition{Topic: "orders", Partition: 0}
	sp := stored[tp]
	orig := &kgo.Record{Topic: "orders", Partition: 0, Key: []byte("k"), Value: []byte("original"), Timestamp: time.Now()}
	b.src.Produce(t, []*kgo.Record{orig})
	bad := &kgo.Record{Topic: "source.orders", Partition: 0, Key: orig.Key, Value: []byte("tampered"), Timestamp: orig.Timestamp}
	b.tgt.Produce(t, []*kgo.Record{bad})
	if end := sp.Map.End(); end.Source != orig.Offset || end.Target != bad.Offset {
		t.Fatalf("set-up: mirrored end %+v, altered copy %d→%d", end, orig.Offset, bad.Offset)
	}
	segs := append(slices.Clone(sp.Map.Segments()), offsetmap.Segment{Source: orig.Offset, Target: bad.Offset, Count: 1})
	sp.Map = offsetmap.Restore(sp.Map.Start(), offsetmap.Segment{Source: orig.Offset + 1, Target: bad.Offset + 1}, segs)
	if err := progresstest.Write(ctx, f, src, tgt, tp, sp); err != nil {
		t.Fatal(err)
	}

	var o kadm.Offsets
	o.Add(kadm.Offset{Topic: "source.orders", Partition: 1, At: 3})
	if resp, err := kadm.NewClient(b.tgt.Client(t)).DeleteRecords(ctx, o); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}
}

func TestVerify(t *testing.T) {
	b := newVerifyBed(t)
	if err := b.src.CreateTopic("orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	b.produce(t, "orders", 2, 8)
	b.mirror(t, "orders")

	code, out, errOut := execute(t, context.Background(), "verify", "-c", b.path, "--topic", "orders")
	if code != ExitOK || !strings.HasSuffix(out, "\nidentical\n") {
		t.Fatalf("before tampering: exit %d\n%s%s", code, out, errOut)
	}

	// The journal holds the result: identical, with its counts.
	verified := func() journal.Event {
		t.Helper()
		story, problems, err := journal.Read(context.Background(), b.cfg.Flows[0], []kgo.Opt{kgo.SeedBrokers(b.tgt.Addr)})
		if err != nil || len(problems) > 0 {
			t.Fatalf("read the journal: %v %v", err, problems)
		}
		e, _ := story.Event(journal.TopicSubject, "orders", journal.Verified)
		return e
	}
	if e := verified(); e.Verdict != journal.VerdictIdentical || e.Counts["compared"] != 16 || e.Counts["missing"] != 0 {
		t.Errorf("the journal's verify: %+v", e)
	}

	b.tamper(t)
	// Created after the mirror stopped: nothing stored for it.
	if err := b.src.CreateTopic("late", 1, nil); err != nil {
		t.Fatal(err)
	}
	b.produce(t, "late", 1, 1)

	code, out, errOut = execute(t, context.Background(), "verify", "-c", b.path, "--topic", "orders,late", "--max-mismatches", "2")
	if code != ExitFailure || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	golden(t, "verify", out)
	if e := verified(); e.Verdict != journal.VerdictDiffers || e.Counts["altered"] != 1 || e.Counts["missing"] != 3 || e.Counts["extra"] != 1 {
		t.Errorf("the journal's verify after tampering: %+v", e)
	}

	code, out, _ = execute(t, context.Background(), "verify", "-c", b.path, "--topic", "orders", "--topic", "late", "--json")
	var r verify.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != ExitFailure {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if r.Identical || len(r.Partitions) != 3 || r.Total.Counts != (verify.Counts{Compared: 21, Identical: 17, Altered: 1, Missing: 3, Extra: 1}) ||
		r.Total.NotMirrored != 1 || r.Partitions[0].Topic != "late" || r.Partitions[0].State != verify.StateNotMirrored {
		t.Errorf("report %+v", r)
	}
	for _, key := range []string{`"identical": false`, `"flow": "source->target"`, `"targetTopic": "source.orders"`, `"state": "compared"`, `"sourceOffset": 10`,
		`"kind": "altered"`, `"fields": [`, `"notMirrored": 1`} {
		if !strings.Contains(out, key) {
			t.Errorf("the JSON lacks %s:\n%s", key, out)
		}
	}

	// From a time after every record but the altered one: only it is
	// compared.
	from := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	code, out, _ = execute(t, context.Background(), "verify", "-c", b.path, "--topic", "orders", "--from-timestamp", from)
	if code != ExitFailure || !strings.Contains(out, "total: 2 partitions, compared 1: 0 identical, 1 altered, 0 missing, 0 extra\n") {
		t.Errorf("--from-timestamp: exit %d\n%s", code, out)
	}
	if e := verified(); e.Counts["compared"] == 1 {
		t.Errorf("a verify from a timestamp was recorded in the journal: %+v", e)
	}
}

func TestVerifyErrors(t *testing.T) {
	b := newVerifyBed(t)
	if err := b.src.CreateTopic("other", 1, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no topic", []string{"-c", b.path}, ExitUsage, `required flag(s) "topic" not set`},
		{"not selected", []string{"-c", b.path, "--topic", "orders,other"}, ExitFailure,
			`topic "other" is not selected by any flow (source->target copies 'orders, late' except`},
		{"bad timestamp", []string{"-c", b.path, "--topic", "orders", "--from-timestamp", "yesterday"}, ExitUsage,
			`--from-timestamp "yesterday" is neither RFC 3339`},
		{"unknown topic", []string{"-c", b.path, "--topic", "orders"}, ExitFailure,
			`flow source->target: topic "orders" on source cluster "source": UNKNOWN_TOPIC_OR_PARTITION`},
		{"no config", []string{"-c", filepath.Join(t.TempDir(), "absent.yaml"), "--topic", "orders"}, ExitFailure, "absent.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := execute(t, context.Background(), append([]string{"verify"}, tt.args...)...)
			if code != tt.code || !strings.HasPrefix(errOut, "kmirror: ") || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("exit %d, want %d\nstdout %q\nstderr %q, want %q", code, tt.code, out, errOut, tt.want)
			}
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	want := time.Date(2026, 3, 1, 12, 0, 0, 500e6, time.UTC)
	for _, s := range []string{"2026-03-01T12:00:00.5Z", "2026-03-01T13:00:00.5+01:00", "1772366400500"} {
		got, err := parseTimestamp(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
}
