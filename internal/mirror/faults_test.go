package mirror

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/offsetmap"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/testbed"
)

// faultTopics are the topics the fault tests copy.
var faultTopics = map[string]int32{"app-a": 4, "app-b": 2}

// faultWindow is how long a time-bounded fault lasts.
const faultWindow = 3 * time.Second

// fault is a broker fault injected while the flow copies: hits counts the
// requests (or events) it hit, over says that its bound, a count or a
// deadline, has passed.
type fault struct {
	hits func() int
	over func() bool
}

// serving returns the cluster that answers requests of key: fetches are
// the source's, everything else the target's.
func serving(key kmsg.Key, src, tgt *testbed.Cluster) *testbed.Cluster {
	if key == kmsg.Fetch {
		return src
	}
	return tgt
}

// errorFault answers the requests of key on topic app-a with code, per
// partition, for faultWindow; app-b's partitions in the same requests are
// served. kfake answers a produce with REQUEST_TIMED_OUT after appending it,
// as a broker whose replication timed out does: the producer must not
// write the retry twice.
func errorFault(key kmsg.Key, code *kerr.Error) func(t *testing.T, src, tgt *testbed.Cluster) fault {
	return func(t *testing.T, src, tgt *testbed.Cluster) fault {
		c := serving(key, src, tgt)
		until := time.Now().Add(faultWindow)
		h := c.Fault(kfake.Fault{Keys: []kmsg.Key{key}, Topic: "app-a", Err: code, Count: -1,
			When: func(kmsg.Request) bool { return time.Now().Before(until) }})
		t.Cleanup(h.Remove)
		return fault{hits: h.Hits, over: func() bool { return time.Now().After(until) }}
	}
}

// controlFault runs act on the requests of key for faultWindow, or for
// limit requests when limit > 0, and counts them; act returns what the
// control function returns.
func controlFault(c *testbed.Cluster, key kmsg.Key, limit int, act func(kmsg.Request) (kmsg.Response, error, bool)) fault {
	until := time.Now().Add(faultWindow)
	var n atomic.Int64
	over := func() bool {
		if limit > 0 {
			return n.Load() >= int64(limit)
		}
		return time.Now().After(until)
	}
	c.ControlKey(key.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if over() {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		n.Add(1)
		return act(req)
	})
	return fault{hits: func() int { return int(n.Load()) }, over: over}
}

// unwrittenTimeout answers every produce request for faultWindow with
// REQUEST_TIMED_OUT for each of its partitions, without appending anything:
// a broker that timed out before it wrote.
func unwrittenTimeout(t *testing.T, src, tgt *testbed.Cluster) fault {
	return controlFault(tgt, kmsg.Produce, 0, func(req kmsg.Request) (kmsg.Response, error, bool) {
		return testbed.RefuseProduce(req.(*kmsg.ProduceRequest), kerr.RequestTimedOut.Code), nil, true
	})
}

// delayFault holds the requests of key for d each, for faultWindow.
func delayFault(key kmsg.Key, d time.Duration) func(t *testing.T, src, tgt *testbed.Cluster) fault {
	return func(t *testing.T, src, tgt *testbed.Cluster) fault {
		c := serving(key, src, tgt)
		return controlFault(c, key, 0, func(kmsg.Request) (kmsg.Response, error, bool) {
			// The delay is the fault, not a wait for a result. Other
			// connections are served meanwhile.
			c.SleepControl(func() { time.Sleep(d) })
			return nil, nil, false // then answered as usual
		})
	}
}

// dropFault closes the connection of every other request of key, without
// answering it, ten times.
func dropFault(key kmsg.Key) func(t *testing.T, src, tgt *testbed.Cluster) fault {
	return func(t *testing.T, src, tgt *testbed.Cluster) fault {
		c := serving(key, src, tgt)
		var seen atomic.Int64
		f := controlFault(c, key, 20, func(kmsg.Request) (kmsg.Response, error, bool) {
			if seen.Add(1)%2 == 0 {
				return nil, nil, false
			}
			// An error from a control function makes kfake close the
			// connection without writing a response.
			return nil, errors.New("injected: connection dropped"), true
		})
		return fault{hits: func() int { return (f.hits() + 1) / 2 }, over: f.over}
	}
}

// unreachable drops the connection of every request to a cluster for
// faultWindow: the source or the target is unreachable for a while.
func unreachable(target bool) func(t *testing.T, src, tgt *testbed.Cluster) fault {
	return func(t *testing.T, src, tgt *testbed.Cluster) fault {
		c := src
		if target {
			c = tgt
		}
		return controlFault(c, -1, 0, func(kmsg.Request) (kmsg.Response, error, bool) {
			return nil, errors.New("injected: unreachable"), true
		})
	}
}

// moveLeaders moves the leader of every copied partition, on the source and
// on the target, to the next broker, every 300 ms for faultWindow.
func moveLeaders(t *testing.T, src, tgt *testbed.Cluster) fault {
	var moves atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for until := time.Now().Add(faultWindow); time.Now().Before(until); <-tick.C {
			for _, c := range []*testbed.Cluster{src, tgt} {
				for topic, n := range faultTopics {
					for p := range n {
						leader := c.LeaderFor(topic, p)
						if err := c.MoveTopicPartition(topic, p, (leader+1)%3); err != nil {
							t.Errorf("move %s[%d]: %v", topic, p, err)
							return
						}
						moves.Add(1)
					}
				}
			}
		}
	}()
	t.Cleanup(func() { <-done })
	return fault{hits: func() int { return int(moves.Load()) }, over: func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}}
}

// brokerDown takes broker 1 of both clusters away for faultWindow: it
// leaves the cluster (its partitions move to the others), its connections
// are dropped, and then it comes back on the same port and takes partitions
// again.
func brokerDown(t *testing.T, src, tgt *testbed.Cluster) fault {
	const node = 1
	var drops atomic.Int64
	var down atomic.Bool
	down.Store(true)
	ports := map[*testbed.Cluster]int{}
	for _, c := range []*testbed.Cluster{src, tgt} {
		_, port, err := net.SplitHostPort(c.ListenAddrs()[node])
		if err != nil {
			t.Fatal(err)
		}
		if ports[c], err = strconv.Atoi(port); err != nil {
			t.Fatal(err)
		}
		c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
			if !down.Load() {
				c.DropControl()
				return nil, nil, false
			}
			if c.CurrentNode() != node {
				return nil, nil, false
			}
			c.KeepControl()
			drops.Add(1)
			return nil, errors.New("injected: broker down"), true
		})
		if err := c.RemoveNode(node); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(faultWindow) // the fault lasts this long
		down.Store(false)
		for c, port := range ports {
			if _, _, err := c.AddNode(node, port); err != nil {
				t.Errorf("broker %d back on port %d: %v", node, port, err)
			}
		}
	}()
	t.Cleanup(func() { <-done })
	return fault{hits: func() int { return int(drops.Load()) }, over: func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}}
}

// Broker faults on either side while records keep arriving: the flow rides
// them out without stopping, and the target ends up with every source
// record exactly once, in order; the status and the persisted progress and
// offset map agree with both logs.
func TestFaultsAreRiddenOut(t *testing.T) {
	tests := []struct {
		name    string
		brokers int
		arm     func(t *testing.T, src, tgt *testbed.Cluster) fault
	}{
		{name: "produce NOT_LEADER_OR_FOLLOWER", arm: errorFault(kmsg.Produce, kerr.NotLeaderForPartition)},
		{name: "produce REQUEST_TIMED_OUT after the append", arm: errorFault(kmsg.Produce, kerr.RequestTimedOut)},
		{name: "produce REQUEST_TIMED_OUT before the append", arm: unwrittenTimeout},
		{name: "fetch NOT_LEADER_OR_FOLLOWER", arm: errorFault(kmsg.Fetch, kerr.NotLeaderForPartition)},
		{name: "fetch REQUEST_TIMED_OUT", arm: errorFault(kmsg.Fetch, kerr.RequestTimedOut)},
		{name: "produce delayed", arm: delayFault(kmsg.Produce, 2*time.Second)},
		{name: "fetch delayed", arm: delayFault(kmsg.Fetch, 2*time.Second)},
		{name: "produce connection dropped", arm: dropFault(kmsg.Produce)},
		{name: "fetch connection dropped", arm: dropFault(kmsg.Fetch)},
		{name: "source unreachable", arm: unreachable(false)},
		{name: "target unreachable", arm: unreachable(true)},
		{name: "leaders move", brokers: 3, arm: moveLeaders},
		{name: "broker leaves and returns", brokers: 3, arm: brokerDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			brokers := max(tt.brokers, 1)
			src, tgt := testbed.NewCluster(t, kfake.NumBrokers(brokers)), testbed.NewCluster(t, kfake.NumBrokers(brokers))
			for name, n := range faultTopics {
				if err := src.CreateTopic(name, n, nil); err != nil {
					t.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(5, uint64(len(tt.name))))
			seq := 0
			src.Produce(t, workload(rng, faultTopics, 2000, &seq))
			// Discovery runs during every fault.
			cfg := testbed.Config(t, src, tgt, identity+"        tasks.max: 3\n        refresh.topics.interval.seconds: 1\n")
			r := start(t, cfg)
			testbed.WaitFor(t, 30*time.Second, "copying", func() bool {
				return tgt.TopicInfo("app-a") != nil && sum(tgt.EndOffsets(t, "app-a")) > 0
			})

			// Records keep arriving through the fault.
			cl := src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			stop, produced := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(produced)
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					err := cl.ProduceSync(ctx, workload(rng, faultTopics, 100, &seq)...).FirstErr()
					cancel()
					if err != nil {
						t.Errorf("produce to the source: %v", err)
						return
					}
				}
			}()
			f := tt.arm(t, src, tgt)
			testbed.WaitFor(t, 30*time.Second, "the fault to hit and end", func() bool {
				select {
				case err := <-r.done:
					r.cancel = nil
					t.Fatalf("the flow ended during the fault: %v", err)
				default:
				}
				return f.hits() > 0 && f.over()
			})
			close(stop)
			<-produced
			t.Logf("fault hit %d times; %d records produced", f.hits(), seq)

			pairs := map[string]string{}
			for name := range faultTopics {
				pairs[name] = name
			}
			r.caughtUp(t, src, tgt, pairs, time.Minute)
			ends := map[progress.Partition]int64{}
			for name := range faultTopics {
				for p, end := range src.EndOffsets(t, name) {
					ends[progress.Partition{Topic: name, Partition: p}] = end
				}
			}
			// The target holds every record a moment before the producer
			// has read the acknowledgements that move the status.
			var behind []string
			testbed.WaitFor(t, 10*time.Second, "the status to reach the source end", func() bool {
				behind = behind[:0]
				parts, _, _ := r.flow.Status()
				for _, p := range parts {
					if want := ends[progress.Partition{Topic: p.Topic, Partition: p.Partition}]; p.Next != want || p.Stopped != "" {
						behind = append(behind, fmt.Sprintf("%s[%d] next %d of %d %s", p.Topic, p.Partition, p.Next, want, p.Stopped))
					}
				}
				return len(parts) == len(ends) && len(behind) == 0
			})
			r.stop(t)
			compared := 0
			for name, n := range faultTopics {
				compared += sameTopic(t, src, tgt, name, name, n)
			}
			if compared != seq {
				t.Errorf("%d records compared, %d produced", compared, seq)
			}
			checkStored(t, cfg, ends)
		})
	}
}

// checkStored checks the progress and offset map a stopped flow persisted:
// each partition is copied up to the source end, and, the target having
// started empty with no control records, each source offset translates to
// the same target offset.
func checkStored(t *testing.T, cfg *config.Config, ends map[progress.Partition]int64) {
	t.Helper()
	f := cfg.Flows[0]
	stored, err := progress.Read(t.Context(), f, cfg.Cluster(f.Source), cfg.Cluster(f.Target), testbed.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for tp, end := range ends {
		s, ok := stored[tp]
		if !ok {
			t.Errorf("%s[%d]: no progress stored", tp.Topic, tp.Partition)
			continue
		}
		if got := s.Map.End(); got.Source != end || got.Target != end {
			t.Errorf("%s[%d]: stored end %+v, source and target end %d", tp.Topic, tp.Partition, got, end)
			continue
		}
		for g := int64(0); g < end; g++ {
			if off, res := s.Map.Translate(g); res != offsetmap.Exact || off != g {
				t.Errorf("%s[%d]: stored map translates %d to %d (%v)", tp.Topic, tp.Partition, g, off, res)
				break
			}
		}
	}
	if len(stored) != len(ends) {
		t.Errorf("%d partitions stored, %d copied", len(stored), len(ends))
	}
}

// A target that closes every new connection at once for a while (a broker
// restarting, a proxy draining) is ridden out like any other outage: the
// records that reach the producer during it wait, and are copied once the
// target answers again.
//
// franz-go takes an EOF on the first read of a new connection for a TLS or
// SASL misconfiguration, not for a network fault, unless the client was
// built with kgo.AlwaysRetryEOF: when the producer's metadata refresh fails
// so, it fails the buffered records of every partition that has no request
// in flight (here app-a[0], whose record arrives after app-a[1]'s request
// died with the open connection) with ErrFirstReadEOF, and the flow stops.
func TestTargetClosingNewConnectionsIsRiddenOut(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for name, n := range faultTopics {
		if err := src.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	src.Produce(t, numbered("app-a", 0, 0, 100))
	r := start(t, testbed.Config(t, src, tgt, identity))
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, 30*time.Second)
	inFlight := func(topic string, p int32) int {
		return copying(r.flow, progress.Partition{Topic: topic, Partition: p}).inFlight()
	}
	testbed.WaitFor(t, 10*time.Second, "app-a[0] acknowledged", func() bool { return inFlight("app-a", 0) == 0 })
	// The outage outlasts the worker's lease: it drops its partitions and
	// takes them up again from the persisted progress, adopting what it
	// copied since (see resume.go). A partition whose first progress is
	// not persisted yet is copied again from its start (a known limit).
	testbed.WaitFor(t, 10*time.Second, "app-a[0]'s progress persisted", func() bool {
		st, err := progress.Read(t.Context(), r.flow.cfg, r.flow.src, r.flow.tgt, testbed.Logger(t))
		return err == nil && st[progress.Partition{Topic: "app-a", Partition: 0}].Map != nil && st[progress.Partition{Topic: "app-a", Partition: 0}].Map.End().Source == 100
	})

	var down atomic.Bool
	down.Store(true)
	var dropped atomic.Int64
	tgt.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if !down.Load() {
			tgt.DropControl()
			return nil, nil, false
		}
		tgt.KeepControl()
		dropped.Add(1)
		return nil, errors.New("injected: connection closed"), true
	})
	src.Produce(t, numbered("app-a", 1, 0, 1))
	testbed.WaitFor(t, 10*time.Second, "app-a[1]'s request to die with the open connection", func() bool {
		return inFlight("app-a", 1) == 1 && dropped.Load() > 0
	})
	src.Produce(t, numbered("app-a", 0, 100, 101))
	until := time.Now().Add(8 * time.Second)
	testbed.WaitFor(t, 10*time.Second, "the outage to last 8 s", func() bool {
		select {
		case err := <-r.done:
			r.cancel = nil
			t.Fatalf("the flow ended during the outage (%d requests dropped): %v", dropped.Load(), err)
		default:
		}
		return time.Now().After(until)
	})
	down.Store(false)
	r.caughtUp(t, src, tgt, map[string]string{"app-a": "app-a"}, 30*time.Second)
	r.stop(t)
	sameTopic(t, src, tgt, "app-a", "app-a", faultTopics["app-a"])
}
