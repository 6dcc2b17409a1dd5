package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

func TestPlan(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	for name, n := range map[string]int32{"app1-t1": 3, "app1-t2": 2, "app2-t1": 1, "other": 1} {
		if err := src.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.CreateTopic("app3-t1", 4, map[string]string{"retention.ms": "3600000", "min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := tgt.CreateTopic("app1-t2", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := tgt.CreateTopic("app3-t1", 4, nil); err != nil {
		t.Fatal(err)
	}
	// MirrorMaker 2 copied app3-t1[0] up to 30 and committed 25: kmirror
	// would take it over and resume after the last record MM2 copied.
	var recs []*kgo.Record
	for i := range 40 {
		recs = append(recs, &kgo.Record{Topic: "app3-t1", Partition: 0, Value: fmt.Appendf(nil, "v%d", i)})
	}
	src.Produce(t, recs)
	testbed.LeaveMM2(t, &src.Brokers, &tgt.Brokers, testbed.MM2Flow{Source: "source", Target: "target"}, "app3-t1", map[int32]testbed.MM2Left{0: {Copied: 30, Committed: 25, SyncEvery: 10}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, group := range []string{"app1-consumer", "app2-consumer", "console-consumer-42", "billing"} {
		cl := src.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics("other"))
		if err := cl.CommitRecords(ctx, &kgo.Record{Topic: "other", Partition: 0, Offset: 0}); err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	dir := t.TempDir()
	testbed.WriteFiles(t, dir, map[string][]byte{"kmirror.yaml": []byte(testbed.NativeConfig(src, tgt, `    topicsPattern: "app1-t1, app1-t2, app3-t1, absent"
    groupsPattern: "^(app1.*|app2.*)$"
    sourceConnector:
      config:
        replication.policy.class: identity
`))})
	code, out, errOut := execute(t, context.Background(), "plan", "-c", filepath.Join(dir, "kmirror.yaml"))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "plan", out)
	code, out, errOut = execute(t, context.Background(), "plan", "-c", filepath.Join(dir, "kmirror.yaml"), "--json")
	if code != ExitOK {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	golden(t, "plan-json", out)
}
