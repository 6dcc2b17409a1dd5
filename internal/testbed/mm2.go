package testbed

import (
	"testing"
)

// MM2Heap is the heap MirrorMaker 2 runs with in the test bed.
const MM2Heap = "1g"

// MM2 is Apache Kafka's MirrorMaker 2 in dedicated mode
// (org.apache.kafka.connect.mirror.MirrorMaker) as a process, from the
// jars of KafkaJars: the peer kmirror is compared with and takes over from.
// Log is the file it writes its log to; Stop, Kill and Exited are as for
// any process of the bed.
type MM2 struct {
	process
}

// StartMM2 writes properties (an mm2.properties) and starts MirrorMaker 2
// in dedicated mode on it; it is killed with the test, and its log printed
// (the last lines) when the test fails.
func StartMM2(t testing.TB, properties string) *MM2 {
	t.Helper()
	m, err := LaunchMM2(properties, MM2Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	m.killWith(t, "MirrorMaker 2")
	return m
}
