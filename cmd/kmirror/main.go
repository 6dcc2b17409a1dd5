// Command kmirror replicates Kafka topics and consumer-group offsets between
// clusters and guides a consumer-first migration. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kmirror/kmirror/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
