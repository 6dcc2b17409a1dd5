package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitDone waits for a ServeListener result, failing the test after a deadline.
func waitDone(t *testing.T, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("serve did not return within %s", within)
		return nil
	}
}

func TestListenError(t *testing.T) {
	taken, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = taken.Close() })
	addr := taken.Addr().String()

	_, err = Listen(addr)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want one naming %s", err, addr)
	}
}

func TestServeStopsWhenContextEnds(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, Handler(Options{}), "", nil) }()

	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz = %d", res.StatusCode)
	}
	cancel()
	if err := waitDone(t, done, 5*time.Second); err != nil {
		t.Fatalf("serve after a clean stop: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("still serving after the stop")
	}
}

// TestServeShutdownIsBounded: a request that never ends does not hold the
// shutdown beyond shutdownTimeout.
func TestServeShutdownIsBounded(t *testing.T) {
	old := shutdownTimeout
	shutdownTimeout = 100 * time.Millisecond
	t.Cleanup(func() { shutdownTimeout = old })

	started := make(chan struct{})
	var once sync.Once
	hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-r.Context().Done() // until the server cuts the connection
	})
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, hang, "", nil) }()

	reqDone := make(chan struct{})
	go func() {
		defer close(reqDone)
		if res, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
			_ = res.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("request never reached the handler")
	}
	cancel()
	if err := waitDone(t, done, 5*time.Second); err != nil {
		t.Fatalf("serve after a cut-off shutdown: %v", err)
	}
	<-reqDone
}
