package mirror

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the copy path's Prometheus metrics, shared by the flows of a
// process.
type Metrics struct {
	records, bytes *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	gaps, lost     *prometheus.CounterVec
	transactions   *prometheus.CounterVec
	pairCopies     *prometheus.CounterVec
	batches        *prometheus.CounterVec
}

// LatencyBuckets are the buckets of the replication latency histograms:
// from a millisecond to ten minutes.
var LatencyBuckets = prometheus.ExponentialBucketsRange(0.001, 600, 20)

// NewMetrics makes the copy path's metrics and registers them with reg,
// unless reg is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	flowTopic := []string{"source", "target", "topic"}
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_records_copied_total",
			Help: "Records copied to the target and acknowledged by it."}, flowTopic),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_bytes_copied_total",
			Help: "Bytes copied to the target and acknowledged by it: the records sections of the batches written, compressed as written; in exactly-once mode the records' keys, values and headers."}, flowTopic),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_batches_copied_total",
			Help: "Record batches copied to the target and acknowledged by it, by path: forwarded (the source batch's records section as it is) or re-encoded (decoded and encoded again, or small uncompressed batches gathered into one); 0 in exactly-once mode, which copies records."},
			[]string{"source", "target", "topic", "path"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kmirror_replication_latency_seconds",
			Help: "Time from a record's source timestamp to its acknowledgement by the target.", Buckets: LatencyBuckets}, []string{"source", "target"}),
		gaps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_data_loss_gaps_total",
			Help: "Ranges of source offsets deleted by the source's retention before they were copied."}, flowTopic),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_data_loss_records_total",
			Help: "Source offsets deleted by the source's retention before they were copied."}, flowTopic),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_transactions_total",
			Help: "Transactions of exactly-once mode's slots, by result: committed (those that wrote something), or aborted (the slot then copies again from what is committed); 0 in the default mode."},
			[]string{"source", "target", "result"}),
		pairCopies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kmirror_records_not_copied_back_total",
			Help: "Records of the source that the flow the other way wrote there (copies of the target's records, told by its exact offset map), not copied back."}, flowTopic),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.bytes, m.latency, m.gaps, m.lost, m.transactions, m.pairCopies, m.batches)
	}
	return m
}

// flow makes the flow's counters exist at 0 from its start, so that an
// alert on their increase sees the first one.
func (m *Metrics) flow(source, target string) {
	for _, result := range []string{"committed", "aborted"} {
		m.transactions.WithLabelValues(source, target, result)
	}
}

// partitionMetrics are one partition's metrics, looked up once so that the
// copy path only adds to them.
type partitionMetrics struct {
	records, bytes prometheus.Counter
	latency        prometheus.Observer
	notCopiedBack  prometheus.Counter
	// forwarded and reencoded count the batch path's batches.
	forwarded, reencoded prometheus.Counter
}

// partition looks up one partition's metrics; skips says the flow skips
// records it must not copy back (a flow the other way, or provenance
// headers), which then count too.
func (m *Metrics) partition(source, target, topic string, skips bool) partitionMetrics {
	// The loss counters exist at 0 from the start, so that an alert on
	// their increase sees the first gap.
	m.gaps.WithLabelValues(source, target, topic)
	m.lost.WithLabelValues(source, target, topic)
	pm := partitionMetrics{
		records: m.records.WithLabelValues(source, target, topic),
		bytes:   m.bytes.WithLabelValues(source, target, topic),
		latency: m.latency.WithLabelValues(source, target),
		// Both paths exist at 0 from the start: a dashboard's ratio of
		// forwarded batches needs both.
		forwarded: m.batches.WithLabelValues(source, target, topic, "forwarded"),
		reencoded: m.batches.WithLabelValues(source, target, topic, "re-encoded"),
	}
	if skips {
		pm.notCopiedBack = m.pairCopies.WithLabelValues(source, target, topic)
	}
	return pm
}

// skippedCopy counts one record not copied back.
func (pm partitionMetrics) skippedCopy() {
	if pm.notCopiedBack != nil {
		pm.notCopiedBack.Inc()
	}
}

// copied counts one acknowledged record.
func (pm partitionMetrics) copied(size int, latency time.Duration) {
	if pm.records == nil {
		return
	}
	pm.records.Inc()
	pm.bytes.Add(float64(size))
	pm.latency.Observe(latency.Seconds())
}

// copiedBatch counts one acknowledged batch of n records whose records
// section is size bytes, its newest record latency old.
func (pm partitionMetrics) copiedBatch(forwarded bool, n int64, size int, latency time.Duration) {
	if pm.records == nil {
		return
	}
	if forwarded {
		pm.forwarded.Inc()
	} else {
		pm.reencoded.Inc()
	}
	pm.records.Add(float64(n))
	pm.bytes.Add(float64(size))
	// Every record counts in the latency, as on the record path; a batch
	// tells only its newest record's time.
	s := latency.Seconds()
	for range n {
		pm.latency.Observe(s)
	}
}
