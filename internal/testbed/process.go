package testbed

import (
	"bufio"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// process is a JVM of the test bed that runs beside the brokers and is
// stopped as an operator stops it: MirrorMaker 2 in dedicated mode, or a
// Kafka Connect worker.
type process struct {
	// Log is the file the process writes its log to.
	Log string

	proc *os.Process
	done chan struct{}
}

// startProcess starts a Java main class of the jars in dir, as startJava
// does, logging to log.
func startProcess(log, dir, heap string, args ...string) (process, error) {
	cmd, done, err := startJava(log, dir, heap, args...)
	if err != nil {
		return process{}, err
	}
	return process{Log: log, proc: cmd.Process, done: done}, nil
}

// killWith kills the process when the test ends, printing the last lines
// of its log, under name, when the test failed.
func (p *process) killWith(t testing.TB, name string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s's log (%s):\n%s", name, p.Log, p.Tail(80))
		}
		p.Kill()
	})
}

// Kill ends the process with SIGKILL and waits for it to be gone.
func (p *process) Kill() {
	_ = p.proc.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop stops the process with SIGTERM, as an operator does, and waits up
// to within for it to exit; it reports whether it did.
func (p *process) Stop(within time.Duration) bool {
	_ = p.proc.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(within):
		return false
	}
}

// Exited reports whether the process has ended.
func (p *process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Pid is the process ID (the JVM's).
func (p *process) Pid() int { return p.proc.Pid }

// Tail returns the last n lines of the process's log.
func (p *process) Tail(n int) string { return tail(p.Log, n) }

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
