package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kmirror/kmirror/bench/internal/workload"
)

// proc is a child process whose output lines are kept.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string // stdout lines
	log  []string // stderr lines
	done chan struct{}
	err  error
}

func startProc(name string, env []string, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	var wg sync.WaitGroup
	collect := func(r io.Reader, dst *[]string) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			*dst = append(*dst, sc.Text())
			p.mu.Unlock()
		}
	}
	wg.Go(func() { collect(stdout, &p.out) })
	wg.Go(func() { collect(stderr, &p.log) })
	go func() {
		wg.Wait() // the pipes must be drained before Wait closes them
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitFor returns the first line (stdout or stderr) containing s.
func (p *proc) waitFor(ctx context.Context, s string, within time.Duration) (string, error) {
	deadline := time.After(within)
	for {
		p.mu.Lock()
		for _, l := range append(p.out, p.log...) {
			if strings.Contains(l, s) {
				p.mu.Unlock()
				return l, nil
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			return "", fmt.Errorf("%s exited (%v) before printing %q:\n%s", p.name, p.err, s, p.tail())
		case <-deadline:
			return "", fmt.Errorf("%s printed no %q within %s:\n%s", p.name, s, within, p.tail())
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// tail is the last lines of output, for errors.
func (p *proc) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := append(append([]string(nil), p.out...), p.log...)
	if len(all) > 30 {
		all = all[len(all)-30:]
	}
	return strings.Join(all, "\n")
}

// stop sends SIGTERM and waits, then kills; it returns the exit error.
func (p *proc) stop(within time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s", p.name, within)
	}
}

// wait waits for the process to end by itself; it kills it when within
// passes or ctx ends.
func (p *proc) wait(ctx context.Context, within time.Duration) error {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("%s: %w:\n%s", p.name, p.err, p.tail())
		}
		return nil
	case <-deadline.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not end within %s, killed:\n%s", p.name, within, p.tail())
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
		return ctx.Err()
	}
}

// exitErr says that the process has exited, and how, or nil while it
// runs.
func (p *proc) exitErr() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v):\n%s", p.name, p.err, p.tail())
	default:
		return nil
	}
}

// usage reads a running process's CPU time and peak RSS from /proc; ok is
// false where there is no /proc (the caller then uses the rusage at exit).
func (p *proc) usage() (workload.Usage, bool) { return usageOf(p.cmd.Process.Pid) }

// usageOf reads a process's CPU time and peak RSS (VmHWM) from /proc.
func usageOf(pid int) (workload.Usage, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return workload.Usage{}, false
	}
	// The command name may hold spaces: fields count from after ')'.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return workload.Usage{}, false
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	// USER_HZ is 100 on every Linux architecture Go supports.
	u := workload.Usage{CPU: time.Duration(ut+st) * (time.Second / 100)}
	if mem, ok := memoryOf(pid); ok {
		u.MaxRSS = mem.peak
	}
	return u, true
}

// memory is a process's resident set, in bytes.
type memory struct {
	rss  int64 // now (VmRSS)
	peak int64 // its peak so far (VmHWM)
}

// memoryOf reads a process's resident set from /proc.
func memoryOf(pid int) (memory, bool) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, false
	}
	var m memory
	for _, l := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(l, ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = kb * 1024
		case "VmHWM":
			m.peak = kb * 1024
		}
	}
	return m, true
}
