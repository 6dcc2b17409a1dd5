package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// debianPython is the interpreter Debian's python3-confluent-kafka
// installs for; .ci/run installs the package.
const debianPython = "/usr/bin/python3"

func librdkafka(t *testing.T) {
	t.Helper()
	err := exec.Command(debianPython, "-c", "import confluent_kafka").Run()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("python3-confluent-kafka is missing in CI (%v): .ci/run must install it", err)
	}
	t.Skipf("needs Debian's python3-confluent-kafka (apt-get install python3-confluent-kafka): %v", err)
}

// The consumer-first switch performed by librdkafka: after kmirror synced
// the group, a python3-confluent-kafka consumer with the same group id
// starts on the target at exactly the record after the last processed one.
func TestSwitchWithLibrdkafka(t *testing.T) {
	librdkafka(t)
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	const topic, parts = "app-orders", 4
	if err := src.CreateTopic(topic, parts, nil); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 400 {
		p := int32(i % parts)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%d/%d", p, i/parts))})
	}
	src.Produce(t, recs)
	b := startBed(t, src, tgt, syncAll, bedOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The group processed 10, 25, 50 and 99 records of the partitions.
	processed := map[int32]int64{0: 10, 1: 25, 2: 50, 3: 99}
	o := kadm.Offsets{}
	for p, n := range processed {
		o.Add(kadm.Offset{Topic: topic, Partition: p, At: n, LeaderEpoch: -1})
	}
	if _, err := b.srcAdm.CommitOffsets(ctx, "app-py", o); err != nil {
		t.Fatal(err)
	}
	b.synced(t, map[string]map[int32]int64{"app-py": processed}, 30*time.Second)

	out, err := exec.CommandContext(ctx, debianPython, "testdata/switch_consumer.py", tgt.Addr, "app-py", topic, fmt.Sprint(parts)).CombinedOutput()
	if err != nil {
		t.Fatalf("librdkafka consumer: %v\n%s", err, out)
	}
	var first map[string]string
	if err := json.Unmarshal(out, &first); err != nil {
		t.Fatalf("librdkafka consumer printed %q: %v", out, err)
	}
	for p, n := range processed {
		if want := fmt.Sprintf("%d/%d", p, n); first[fmt.Sprint(p)] != want {
			t.Errorf("partition %d: librdkafka's first record %q, want %q", p, first[fmt.Sprint(p)], want)
		}
	}
}
