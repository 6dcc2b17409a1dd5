// Command kmirrorprof is kmirror with a CPU profile, for the benchmark
// harness's -cpuprofile: it profiles from start until SIGUSR1 (the harness
// sends it when the catch-up is over) or until the process stops, and
// writes the profile to $KMIRROR_CPUPROFILE, from $KMIRROR_CPUPROFILE_AFTER
// (a duration) on if set. With $KMIRROR_MEMPROFILE set,
// each SIGUSR2 writes a heap profile there (after a collection, so that it
// shows the live heap). With $KMIRROR_REQUESTS set, it counts the requests
// of every client by key, and the connections, and prints them to standard
// error at SIGUSR1 and when it stops. Otherwise it is cmd/kmirror.
package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/kmirror/kmirror/bench/internal/reqcount"
	"github.com/kmirror/kmirror/internal/cli"
)

func main() {
	reqs := reqcount.FromEnv()
	stopProfile := func() {}
	if path := os.Getenv("KMIRROR_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kmirrorprof:", err)
			os.Exit(1)
		}
		// $KMIRROR_CPUPROFILE_AFTER puts the start off, to profile a
		// worker at rest rather than starting.
		after, err := time.ParseDuration(cmp.Or(os.Getenv("KMIRROR_CPUPROFILE_AFTER"), "0s"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "kmirrorprof: KMIRROR_CPUPROFILE_AFTER:", err)
			os.Exit(1)
		}
		var mu sync.Mutex
		stopped := false
		start := func() {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				fmt.Fprintln(os.Stderr, "kmirrorprof:", err)
				os.Exit(1)
			}
		}
		if after > 0 {
			time.AfterFunc(after, start)
		} else {
			start()
		}
		stopProfile = func() {
			mu.Lock()
			defer mu.Unlock()
			if !stopped {
				stopped = true
				pprof.StopCPUProfile()
				f.Close()
			}
		}
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			<-usr1
			stopProfile()
			fmt.Fprintln(os.Stderr, "kmirrorprof: profile written")
			reqs.Print(os.Stderr, "kmirrorprof")
		}()
	}
	if path := os.Getenv("KMIRROR_MEMPROFILE"); path != "" {
		usr2 := make(chan os.Signal, 1)
		signal.Notify(usr2, syscall.SIGUSR2)
		go func() {
			for range usr2 {
				if err := writeHeap(path); err != nil {
					fmt.Fprintln(os.Stderr, "kmirrorprof:", err)
					continue
				}
				fmt.Fprintln(os.Stderr, "kmirrorprof: heap profile written")
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	stopProfile()
	reqs.Print(os.Stderr, "kmirrorprof")
	os.Exit(code)
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
