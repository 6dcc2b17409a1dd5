package testbed

import (
	"bufio"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MM2Heap is the heap MirrorMaker 2 runs with in the test bed.
const MM2Heap = "1g"

// MM2 is Apache Kafka's MirrorMaker 2 in dedicated mode
// (org.apache.kafka.connect.mirror.MirrorMaker) as a process, from the
// jars of KafkaJars: the peer kmirror is compared with and takes over from.
type MM2 struct {
	// Log is the file MM2 writes its log to.
	Log string

	proc *os.Process
	done chan struct{}
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
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of MirrorMaker 2's log (%s):\n%s", m.Log, tail(m.Log, 80))
		}
		m.Kill()
	})
	return m
}

// Kill ends MirrorMaker 2 with SIGKILL and waits for it to be gone.
func (m *MM2) Kill() {
	_ = m.proc.Signal(syscall.SIGKILL)
	<-m.done
}

// Stop stops MirrorMaker 2 with SIGTERM, as an operator does, and waits up
// to within for it to exit; it reports whether it did.
func (m *MM2) Stop(within time.Duration) bool {
	_ = m.proc.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
		return true
	case <-time.After(within):
		return false
	}
}

// Exited reports whether the process has ended.
func (m *MM2) Exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
