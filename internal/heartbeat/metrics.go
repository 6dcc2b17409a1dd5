package heartbeat

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the heartbeats' Prometheus metrics, shared by the flows of a
// process.
type Metrics struct {
	rtt  *prometheus.HistogramVec
	last *prometheus.GaugeVec
}

// NewMetrics makes the heartbeat metrics and registers them with reg,
// unless reg is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rtt: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kmirror_heartbeat_rtt_seconds",
			Help:    "Time from writing a heartbeat to its acknowledgement by the target.",
			Buckets: prometheus.ExponentialBucketsRange(0.0005, 30, 16)}, []string{"source", "target"}),
		last: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kmirror_heartbeat_last_success_timestamp_seconds",
			Help: "When the target last acknowledged a heartbeat (Unix time)."}, []string{"source", "target"}),
	}
	if reg != nil {
		reg.MustRegister(m.rtt, m.last)
	}
	return m
}
