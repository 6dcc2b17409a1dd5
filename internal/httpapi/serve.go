package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// ShutdownTimeout bounds a graceful shutdown: requests still running after
// it are cut off.
const ShutdownTimeout = 5 * time.Second

// shutdownTimeout is ShutdownTimeout; tests shorten it.
var shutdownTimeout = ShutdownTimeout

// Server timeouts: the endpoints answer quickly (a status report takes at
// most StatusTimeout), so slow or idle clients are dropped early.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = StatusTimeout + 10*time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Listen opens the TCP listener to serve on (then ServeListener); a
// failure names the address, and with "127.0.0.1:0" the caller learns the
// chosen port from its Addr before serving.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen on %q: %w", addr, err)
	}
	return ln, nil
}

// ServeListener serves h on ln until ctx ends, then shuts down gracefully
// within ShutdownTimeout; it closes ln and returns nil after a clean stop.
// A webConfig file (see ValidateWebConfig) secures what it serves with TLS,
// client certificates or basic auth; "" serves plain HTTP.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, webConfig string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "http")
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	// The exporter toolkit reads the web configuration again for each
	// request and TLS handshake, so renewed certificates and changed users
	// apply without a restart.
	flags := &web.FlagConfig{WebConfigFile: &webConfig}
	go func() { served <- web.Serve(ln, srv, flags, slog.New(redacting{log.Handler()})) }()

	select {
	case err := <-served:
		// Serve only returns early when accepting fails.
		return fmt.Errorf("http serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	// The parent context is done: shut down under a fresh, bounded one.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown cut off running requests", "after", shutdownTimeout, "err", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve on %s: %w", ln.Addr(), err)
	}
	return nil
}
