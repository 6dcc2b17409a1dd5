// Command kmirrorprof is kmirror with a CPU profile, for the benchmark
// harness's -cpuprofile: it profiles from start until SIGUSR1 (the harness
// sends it when the catch-up is over) or until the process stops, and
// writes the profile to $KMIRROR_CPUPROFILE. Otherwise it is cmd/kmirror.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	stopProfile()
	os.Exit(code)
}
