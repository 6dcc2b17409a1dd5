// Package reqcount counts the requests every franz-go client of a process
// writes, by key, and the connections it opens: what a process asks of
// the brokers. The benchmark's processes (bench/kmirrorprof,
// bench/rawclient) count when $KMIRROR_REQUESTS is set.
package reqcount

import (
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/cluster"
)

// Counter is a kgo hook that counts requests and connections.
type Counter struct {
	mu sync.Mutex
	by map[int16]*requestCount
	// connects and disconnects count the connections opened and closed.
	connects, disconnects int
}

func (r *Counter) OnBrokerConnect(kgo.BrokerMetadata, time.Duration, net.Conn, error) {
	r.mu.Lock()
	r.connects++
	r.mu.Unlock()
}

func (r *Counter) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) {
	r.mu.Lock()
	r.disconnects++
	r.mu.Unlock()
}

type requestCount struct {
	n, written, read int64
	wait             time.Duration
}

func (r *Counter) count(key int16) *requestCount {
	c := r.by[key]
	if c == nil {
		c = &requestCount{}
		r.by[key] = c
	}
	return c
}

func (r *Counter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.count(key)
	c.n++
	c.written += int64(n)
}

func (r *Counter) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, wait, _ time.Duration, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.count(key)
	c.read += int64(n)
	c.wait += wait
}

// FromEnv gives every client that internal/cluster's Options make a new
// Counter when $KMIRROR_REQUESTS is set; otherwise it returns nil.
func FromEnv() *Counter {
	if os.Getenv("KMIRROR_REQUESTS") == "" {
		return nil
	}
	r := &Counter{by: map[int16]*requestCount{}}
	cluster.Hooks = append(cluster.Hooks, r)
	return r
}

// Print writes what r counted, a line per request key, each prefixed
// with who. A nil Counter prints nothing.
func (r *Counter) Print(w io.Writer, who string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]int16, 0, len(r.by))
	for k := range r.by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintf(w, "%s: %d connections opened, %d closed\n", who, r.connects, r.disconnects)
	fmt.Fprintf(w, "%s: %-26s %9s %12s %12s %10s\n", who, "request", "count", "written", "read", "avg read")
	for _, k := range keys {
		c := r.by[k]
		fmt.Fprintf(w, "%s: %-26s %9d %12d %12d %10d\n", who, kmsg.NameForKey(k), c.n, c.written, c.read, c.read/max(c.n, 1))
	}
}
