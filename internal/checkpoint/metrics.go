package checkpoint

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the group sync's Prometheus metrics, shared by the flows of a
// process.
type Metrics struct {
	round   *prometheus.HistogramVec
	emitted *prometheus.CounterVec
	synced  *prometheus.CounterVec
}

// NewMetrics makes the group sync's metrics and registers them with reg,
// unless reg is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		round: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kmirror_checkpoint_round_duration_seconds",
			Help:    "Time of one round translating, checkpointing and syncing every selected group.",
			Buckets: prometheus.ExponentialBucketsRange(0.001, 60, 16)}, []string{"source", "target"}),
		emitted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_checkpoints_emitted_total",
			Help: "Checkpoint records written to the target's checkpoints topic."}, []string{"source", "target"}),
		synced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_group_offset_syncs_total",
			Help: "Group offset commits on the target (one per group and sync that moved offsets)."}, []string{"source", "target", "group"}),
	}
	if reg != nil {
		reg.MustRegister(m.round, m.emitted, m.synced)
	}
	return m
}
