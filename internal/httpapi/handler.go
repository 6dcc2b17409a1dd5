package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kmirror/kmirror/internal/status"
)

// StatusTimeout bounds one call of Options.Status for a request.
const StatusTimeout = 10 * time.Second

// Options is what the handler serves.
type Options struct {
	// Status returns the current report (served by /api/v1/status and
	// rendered by the page). Nil answers 503.
	Status func(ctx context.Context) (status.Report, error)
	// History returns the topics' lag over the last hour (served by
	// /api/v1/history for the page's sparklines). Nil serves an empty
	// history.
	History func() status.LagHistory
	// Ready reports whether every assigned task is copying; why says what
	// is missing when not. Nil reports ready.
	Ready func() (ready bool, why string)
	// Gatherer serves /metrics: a registry injected by the caller, never
	// the global one. Nil serves no metrics.
	Gatherer prometheus.Gatherer
	// Log receives what goes wrong while serving. Nil discards.
	Log *slog.Logger
}

// Handler serves kmirror's endpoints:
//
//	GET /metrics        Prometheus metrics from o.Gatherer
//	GET /healthz        200 "ok" while the process runs
//	GET /readyz         200 when o.Ready says so, 503 and the reason otherwise
//	GET /api/v1/status  the status.Report as JSON; 503 and {"error": …} when it cannot be read
//	GET /api/v1/history the status.LagHistory as JSON: each topic's lag over the last hour
//	GET /               the live status page (and its app.js, style.css)
//
// Every endpoint answers GET and HEAD only (405 otherwise); any other path
// is 404.
func Handler(o Options) http.Handler {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "http")
	gatherer := o.Gatherer
	if gatherer == nil {
		gatherer = prometheus.NewRegistry()
	}

	mux := http.NewServeMux()
	// A "GET" pattern also matches HEAD; ServeMux answers 405 with an Allow
	// header for any other method on a known path, and 404 for unknown paths.
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog:      promLog{log},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	registerProbes(mux, o.Ready)
	mux.Handle("GET /api/v1/status", gzipped(statusHandler(o.Status, log)))
	mux.Handle("GET /api/v1/status/summary", gzipped(summaryHandler(o.Status, log)))
	mux.Handle("GET /api/v1/history", gzipped(historyHandler(o.History)))
	registerPage(mux, o.Status, log)
	return secure(mux)
}

// Probes serves /healthz and /readyz alone, as Handler does: for kubelet
// probes on an address of their own when the main one asks for credentials
// (see ValidateWebConfig). They tell whether the process runs and copies,
// nothing more.
func Probes(o Options) http.Handler {
	mux := http.NewServeMux()
	registerProbes(mux, o.Ready)
	return secure(mux)
}

func registerProbes(mux *http.ServeMux, ready func() (bool, string)) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready == nil {
			writeText(w, http.StatusOK, "ready")
			return
		}
		if ok, why := ready(); !ok {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+why)
			return
		}
		writeText(w, http.StatusOK, "ready")
	})
}

// apiError is the JSON body of a failed API request.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		// Only a value JSON cannot represent (a NaN rate) gets here.
		code = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(apiError{Error: fmt.Sprintf("encode status: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}

// secure sets the headers every answer carries: the page may load only
// from this server, and may not be framed.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// promLog sends promhttp's errors to slog.
type promLog struct{ log *slog.Logger }

func (p promLog) Println(v ...any) { p.log.Warn("serve metrics", "err", fmt.Sprint(v...)) }
