package migrate_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/app"
	"github.com/kmirror/kmirror/internal/migrate"
	"github.com/kmirror/kmirror/internal/testbed"
)

// A source that cannot describe its producers still gets a verdict: the
// drain says so in a note, sees a producer by the moving end, and drains
// once it stops.
func TestDrainWithoutDescribeProducers(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app-a", 1, nil); err != nil {
		t.Fatal(err)
	}
	src.ControlKey(kmsg.DescribeProducers.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		src.KeepControl()
		dreq := req.(*kmsg.DescribeProducersRequest)
		resp := dreq.ResponseKind().(*kmsg.DescribeProducersResponse)
		for _, rt := range dreq.Topics {
			st := kmsg.NewDescribeProducersResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewDescribeProducersResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	cfg := testbed.Config(t, src, tgt, `    topicsPattern: "app-.*"`)
	log := testbed.Logger(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.New(cfg, log, app.Options{}).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	var d *migrate.Drainer
	testbed.WaitUntil(t, 30*time.Second, "a worker to run the flow", func() error {
		var err error
		d, err = migrate.NewDrainer(t.Context(), cfg, []string{"app-a"}, time.Second, log)
		return err
	})
	defer d.Close()

	produce := func(n int) { src.Produce(t, []*kgo.Record{{Topic: "app-a", Value: fmt.Appendf(nil, "v%d", n)}}) }
	produce(0)
	if _, err := d.Look(t.Context()); err != nil {
		t.Fatal(err)
	}
	produce(1)
	st, err := d.Look(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Drained() || len(st.Written) != 1 || st.Written[0].Name() != "app-a[0]" || st.Written[0].EndMoved.IsZero() {
		t.Errorf("with a producer writing: drained %v, written %+v", st.Drained(), st.Written)
	}
	noted := func(st migrate.DrainState) bool {
		return slices.ContainsFunc(st.Notes, func(n string) bool { return strings.Contains(n, `cannot describe the producers on "source"`) })
	}
	if !noted(st) {
		t.Errorf("no note that the producers cannot be described: %q", st.Notes)
	}
	var last migrate.DrainState
	if err := d.Wait(t.Context(), 100*time.Millisecond, 30*time.Second, func(st migrate.DrainState) { last = st }); err != nil {
		t.Fatalf("once the producer stopped: %v (last look %+v)", err, last)
	}
	if !noted(last) || last.Quiet < time.Second {
		t.Errorf("drained: notes %q, quiet %s", last.Notes, last.Quiet)
	}
}
