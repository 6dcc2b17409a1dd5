//go:build unix

package workload

import (
	"runtime"
	"syscall"
	"time"
)

// Usage is the CPU time a process has used so far and its peak resident
// set.
type Usage struct {
	CPU    time.Duration
	MaxRSS int64 // bytes
}

// Self returns the calling process's usage.
func Self() Usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}
	}
	return FromRusage(&ru)
}

// FromRusage converts a rusage: user plus system time, and the peak RSS,
// which Linux counts in KiB and macOS in bytes.
func FromRusage(ru *syscall.Rusage) Usage {
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rss := int64(ru.Maxrss)
	if runtime.GOOS != "darwin" {
		rss *= 1024
	}
	return Usage{CPU: cpu, MaxRSS: rss}
}
