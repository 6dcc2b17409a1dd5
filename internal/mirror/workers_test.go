package mirror

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// Short group timings, which the in-process target allows: a worker's
// lease runs out 1 s after its last confirmed heartbeat.
const workers = `    topicsPattern: "app.*"
    sourceConnector:
      config:
        replication.policy.class: identity
        session.timeout.ms: 1500
        heartbeat.interval.ms: 100
`

func groupTarget(t *testing.T) *testbed.Cluster {
	return testbed.NewCluster(t, kfake.GroupMinSessionTimeout(500*time.Millisecond))
}

// unique makes n records per partition whose values name them.
func unique(topic string, partitions int32, from, n int) []*kgo.Record {
	var out []*kgo.Record
	for p := range partitions {
		for i := from; i < from+n; i++ {
			out = append(out, &kgo.Record{Topic: topic, Partition: p, Key: []byte("k"), Value: fmt.Appendf(nil, "%s/%d/%d", topic, p, i),
				Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i))})
		}
	}
	return out
}

// failHeartbeats makes the target answer every heartbeat with an error
// for d: the workers' leases run out.
func failHeartbeats(tgt *testbed.Cluster, d time.Duration) {
	until := time.Now().Add(d)
	tgt.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		tgt.KeepControl()
		if time.Now().After(until) {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil, true
	})
}

// owned lists the partitions a worker copies.
func owned(fl *Flow) map[progress.Partition]bool {
	parts, _, _ := fl.Status()
	out := map[progress.Partition]bool{}
	for _, p := range parts {
		out[progress.Partition{Topic: p.Topic, Partition: p.Partition}] = true
	}
	return out
}

// copiedAll waits until the workers together have copied every source
// record of the topic.
func copiedAll(t *testing.T, src *testbed.Cluster, topic string, within time.Duration, fls ...*Flow) {
	t.Helper()
	testbed.WaitFor(t, within, "every record of "+topic+" copied", func() bool {
		for p, end := range src.EndOffsets(t, topic) {
			done := false
			for _, fl := range fls {
				if c, ok, _ := fl.View(Own).Copied(t.Context(), progress.Partition{Topic: topic, Partition: p}); ok && c.Next == end {
					done = true
				}
			}
			if !done {
				return false
			}
		}
		return true
	})
}

// rewinds compares a target partition with its source: every source record
// must be there, in order; a record may repeat only where the copy went back
// (a rewind, after a worker lost its partitions). It returns the rewinds and
// the duplicate records.
func rewinds(t *testing.T, src, tgt []*kgo.Record, where string) (rewound, dups int) {
	t.Helper()
	next := 0 // the next source record expected
	for _, r := range tgt {
		if next < len(src) && bytes.Equal(r.Value, src[next].Value) {
			if err := testbed.SameRecord(src[next], r); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			next++
			continue
		}
		back := -1
		for j := next - 1; j >= 0; j-- {
			if bytes.Equal(r.Value, src[j].Value) {
				back = j
				break
			}
		}
		if back < 0 {
			t.Errorf("%s: target record %q is not the next source record (%d) nor a repeat", where, r.Value, next)
			return rewound, dups
		}
		rewound++
		dups += next - back
		next = back + 1
	}
	if next != len(src) {
		t.Errorf("%s: %d source records missing on the target from offset %d", where, len(src)-next, next)
	}
	return rewound, dups
}

// Two workers of one flow split its partitions; when one stops cleanly the
// other takes its partitions over from the persisted progress: every record
// arrives once, in order.
func TestWorkersShareAFlow(t *testing.T) {
	src, tgt := testbed.NewCluster(t), groupTarget(t)
	topics := map[string]int32{"app-a": 6, "app-b": 3}
	for name, n := range topics {
		if err := src.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testbed.Config(t, src, tgt, workers)
	src.Produce(t, unique("app-a", 6, 0, 500))
	src.Produce(t, unique("app-b", 3, 0, 500))
	w1, w2 := start(t, cfg), start(t, cfg)
	testbed.WaitFor(t, 30*time.Second, "both workers copy, none the same partition", func() bool {
		a, b := owned(w1.flow), owned(w2.flow)
		for k := range a {
			if b[k] {
				return false
			}
		}
		return len(a) > 0 && len(b) > 0 && len(a)+len(b) == 9
	})
	copiedAll(t, src, "app-a", 30*time.Second, w1.flow, w2.flow)
	copiedAll(t, src, "app-b", 30*time.Second, w1.flow, w2.flow)

	w2.stop(t)
	src.Produce(t, unique("app-a", 6, 500, 500))
	src.Produce(t, unique("app-b", 3, 500, 500))
	testbed.WaitFor(t, 30*time.Second, "the remaining worker copies every partition", func() bool { return len(owned(w1.flow)) == 9 })
	w1.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a", "app-b": "app-b"}, 30*time.Second)
	for name, n := range topics {
		sameTopic(t, src, tgt, name, name, n)
	}
}

// A worker whose heartbeats go unanswered stops writing once its lease
// runs out, drops its partitions, and takes them up again from the
// persisted progress when the group confirms it: nothing is lost, and a
// record repeats only where the copy went back.
func TestLostLeaseDropsPartitionsAndResumes(t *testing.T) {
	src, tgt := testbed.NewCluster(t), groupTarget(t)
	if err := src.CreateTopic("app-a", 4, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, workers)
	w := start(t, cfg)
	src.Produce(t, unique("app-a", 4, 0, 2000))
	copiedAll(t, src, "app-a", 30*time.Second, w.flow)

	// Heartbeats fail for 3 s, while records keep coming.
	failHeartbeats(tgt, 3*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			src.Produce(t, unique("app-a", 4, 2000+i*200, 200))
			time.Sleep(200 * time.Millisecond) // a steady trickle, not a wait for a result
		}
	}()
	testbed.WaitFor(t, 30*time.Second, "the worker dropped its partitions", func() bool { return w.flow.member.Losses() > 0 })
	<-done
	copiedAll(t, src, "app-a", 30*time.Second, w.flow)
	w.stop(t)

	total := 0
	for p := range int32(4) {
		r, d := rewinds(t, src.Read(t, "app-a", p), tgt.Read(t, "app-a", p), fmt.Sprintf("app-a[%d]", p))
		total += d
		if r > int(w.flow.member.Losses()) {
			t.Errorf("app-a[%d] went back %d times for %d losses", p, r, w.flow.member.Losses())
		}
	}
	t.Logf("losses=%d duplicates=%d", w.flow.member.Losses(), total)
}

// A target user without Read on the workers' group gets one error naming
// the group and the permission, not a worker that waits forever.
func TestWorkersGroupNeedsRead(t *testing.T) {
	src := testbed.NewCluster(t)
	all := func(typ kmsg.ACLResourceType, name string) kfake.ACL {
		return kfake.ACL{Resource: typ, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationAll, Allow: true}
	}
	tgt := testbed.NewCluster(t, kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("PLAIN", "admin", "admin-pw"),
		kfake.User("PLAIN", "mirror", "mirror-pw", all(kmsg.ACLResourceTypeTopic, "*"), all(kmsg.ACLResourceTypeCluster, "kafka-cluster"),
			all(kmsg.ACLResourceTypeGroup, "some-other-group")))
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, identity)
	cfg.Cluster("target").SASL = &config.SASL{Mechanism: config.MechanismPlain, Username: "mirror", Password: config.NewSecret("mirror-pw")}
	f := cfg.Flows[0]
	fl := NewFlow(f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), nil, testbed.Logger(t), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := fl.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "missing Read on group:kmirror.source.target") {
		t.Fatalf("run ended with %v, want the missing group permission named", err)
	}
}

// A worker that crashed had copied records past its last persisted
// progress. The worker that resumes takes those copies as done, after
// comparing them with the source: nothing is copied twice, the offset map
// covers them, and a target record that is not the source's next one stops
// the comparison without losing anything.
func TestResumeAfterCrashRepeatsNothing(t *testing.T) {
	src, tgt := testbed.NewCluster(t), groupTarget(t)
	if err := src.CreateTopic("app-a", 2, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testbed.Config(t, src, tgt, workers)
	src.Produce(t, unique("app-a", 2, 0, 500))
	w := start(t, cfg)
	w.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, 30*time.Second)
	w.stop(t)

	// What a worker that died before persisting its progress left behind:
	// copies of the next 300 source records of partition 0, and of the
	// next 100 of partition 1 followed by a record that is not a copy.
	src.Produce(t, unique("app-a", 2, 500, 500))
	var left []*kgo.Record
	for p, n := range map[int32]int{0: 300, 1: 100} {
		for _, r := range src.Read(t, "app-a", p)[500 : 500+n] {
			left = append(left, &kgo.Record{Topic: "app-a", Partition: p, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
		}
	}
	foreign := &kgo.Record{Topic: "app-a", Partition: 1, Value: []byte("not a copy"), Timestamp: time.UnixMilli(1)}
	tgt.Produce(t, append(left, foreign))

	w = start(t, cfg)
	copiedAll(t, src, "app-a", 30*time.Second, w.flow)
	if tr, ok, _ := w.flow.View(Own).Translate(t.Context(), progress.Partition{Topic: "app-a"}, 700); !ok || tr.Offset != 700 {
		t.Errorf("offset 700 of app-a[0] translates to %d (%v), want 700", tr.Offset, ok)
	}
	w.stop(t)
	sameTopic(t, src, tgt, "app-a", "app-a", 1) // partition 0: every record once
	a, b := src.Read(t, "app-a", 1), tgt.Read(t, "app-a", 1)
	if len(b) != len(a)+1 || !bytes.Equal(b[600].Value, foreign.Value) {
		t.Fatalf("app-a[1]: %d source records, %d target records; want the source's and the foreign one at 600", len(a), len(b))
	}
	if r, d := rewinds(t, a, append(b[:600:600], b[601:]...), "app-a[1]"); r+d > 0 {
		t.Errorf("app-a[1]: %d rewinds, %d duplicates", r, d)
	}
}
