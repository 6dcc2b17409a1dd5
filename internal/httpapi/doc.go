// Package httpapi is kmirror's HTTP face while `kmirror run` works: the
// Prometheus metrics, the liveness and readiness probes a Kubernetes
// deployment needs, the status report as JSON, and a live status page an
// operator can open in a browser during a migration.
//
// The page is plain HTML, JavaScript and CSS embedded in the binary: it
// loads nothing from elsewhere, so it works in an air-gapped cluster and
// behind `kubectl port-forward`.
package httpapi
