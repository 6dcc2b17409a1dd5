package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LaunchKafka starts an Apache Kafka cluster outside a test, for programs
// such as the benchmark harness; the caller stops it with Stop. On failure
// nothing is left running and the error ends with the nodes' last log
// lines.
func LaunchKafka(opts KafkaOptions) (*Kafka, error) {
	k, err := startKafka(opts)
	if err == nil {
		return k, nil
	}
	if k != nil {
		var logs []string
		k.dumpLogs("launch", func(s string) { logs = append(logs, s) })
		k.Stop()
		if len(logs) > 0 {
			err = fmt.Errorf("%w\n%s", err, strings.Join(logs, "\n"))
		}
	}
	return nil, err
}

// Pid is the node's process ID, 0 when it is not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// MM2Options shape a MirrorMaker 2 process.
type MM2Options struct {
	// Dir is where mm2.properties and mm2.log are written; it must exist.
	Dir string
	// Jars is the directory of Kafka's jars (default KafkaJars()).
	Jars string
	// Heap is the JVM's maximum heap (default MM2Heap).
	Heap string
}

// LaunchMM2 writes properties (an mm2.properties) into opts.Dir and starts
// MirrorMaker 2 in dedicated mode on it, outside a test; the caller ends it
// with Stop or Kill. It dies with the calling process.
func LaunchMM2(properties string, opts MM2Options) (*MM2, error) {
	if opts.Jars == "" {
		opts.Jars = KafkaJars()
	}
	if opts.Jars == "" {
		return nil, fmt.Errorf("MirrorMaker 2 needs the Apache Kafka jars: %s is not set", KafkaEnv)
	}
	if opts.Heap == "" {
		opts.Heap = MM2Heap
	}
	conf := filepath.Join(opts.Dir, "mm2.properties")
	if err := os.WriteFile(conf, []byte(properties), 0o600); err != nil {
		return nil, err
	}
	p, err := startProcess(filepath.Join(opts.Dir, "mm2.log"), opts.Jars, opts.Heap, "org.apache.kafka.connect.mirror.MirrorMaker", conf)
	if err != nil {
		return nil, fmt.Errorf("start MirrorMaker 2: %w", err)
	}
	return &MM2{p}, nil
}
