// Command kmirrorprof is kmirror with a CPU profile, for the benchmark
// harness's -cpuprofile: it profiles from start until SIGUSR1 (the harness
// sends it when the catch-up is over) or until the process stops, and
// writes the profile to $KMIRROR_CPUPROFILE. With $KMIRROR_MEMPROFILE set,
// each SIGUSR2 writes a heap profile there (after a collection, so that it
// shows the live heap). Otherwise it is cmd/kmirror.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/kmirror/kmirror/internal/cli"
)

func main() {
	stopProfile := func() {}
	if path := os.Getenv("KMIRROR_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kmirrorprof:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "kmirrorprof:", err)
			os.Exit(1)
		}
		var once sync.Once
		stopProfile = func() {
			once.Do(func() {
				pprof.StopCPUProfile()
				f.Close()
			})
		}
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			<-usr1
			stopProfile()
			fmt.Fprintln(os.Stderr, "kmirrorprof: profile written")
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
