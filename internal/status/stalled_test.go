package status_test

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/status"
	"github.com/kmirror/kmirror/internal/testbed"
)

// A flow whose worker runs but cannot copy (the target refuses every
// write to the copy) while the source moves on is stalled, naming the
// partition; the worker is listed with what it holds; once the target
// takes the writes again, the flow catches up.
func TestStalledFlowIsReported(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	first := func(int) int32 { return 0 }
	produceValues(t, src, "app-a", 10, first)
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"`)
	runApp(t, cfg)
	testbed.WaitFor(t, 30*time.Second, "the first 10 records copied", func() bool { return tgt.EndOffsets(t, "source.app-a")[0] == 10 })

	// Produce requests name topics by id from version 13 on.
	topics, err := kadm.NewClient(tgt.Client(t)).ListTopics(t.Context(), "source.app-a")
	if err != nil || topics.Error() != nil {
		t.Fatal(err, topics.Error())
	}
	copyID := topics["source.app-a"].ID
	var refusing atomic.Bool
	refusing.Store(true)
	tgt.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if !refusing.Load() {
			tgt.DropControl()
			return nil, nil, false
		}
		tgt.KeepControl()
		preq := req.(*kmsg.ProduceRequest)
		if !slices.ContainsFunc(preq.Topics, func(rt kmsg.ProduceRequestTopic) bool { return rt.Topic == "source.app-a" || rt.TopicID == copyID }) {
			return nil, nil, false
		}
		return testbed.RefuseProduce(preq, kerr.NotEnoughReplicas.Code), nil, true
	})
	produceValues(t, src, "app-a", 10, first)

	c, err := status.New(cfg, testbed.Logger(t), status.Options{StallAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testbed.WaitUntil(t, 30*time.Second, "the flow reported stalled", func() error {
		f := c.Collect(t.Context()).Flows[0]
		if f.State != status.StateStalled || !slices.Equal(f.Stalled, []string{"app-a[0]"}) ||
			f.StateReason != "the progress of app-a[0] has not moved for 1s while the source is ahead" {
			return fmt.Errorf("state %q (%s), stalled %v", f.State, f.StateReason, f.Stalled)
		}
		if len(f.Workers) != 1 || !slices.Equal(f.Workers[0].Holds["app-a"], []int32{0}) || f.LastProgress == nil {
			return fmt.Errorf("workers %+v, last progress %v", f.Workers, f.LastProgress)
		}
		return nil
	})

	refusing.Store(false)
	testbed.WaitUntil(t, 60*time.Second, "the flow caught up", func() error {
		f := c.Collect(t.Context()).Flows[0]
		if f.State != status.StateCaughtUp || len(f.Stalled) != 0 {
			return fmt.Errorf("state %q (%s), stalled %v", f.State, f.StateReason, f.Stalled)
		}
		return nil
	})
}
