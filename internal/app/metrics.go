package app

import (
	"fmt"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kmirror/kmirror/internal/checkpoint"
	"github.com/kmirror/kmirror/internal/heartbeat"
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/status"
)

// metrics are the App's metrics: the domain packages own what they count,
// the App reports what it reads from the flows and the status report.
type metrics struct {
	mirror     *mirror.Metrics
	checkpoint *checkpoint.Metrics
	heartbeat  *heartbeat.Metrics
}

func newMetrics(a *App) metrics {
	reg := a.registry
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	version, commit := a.opts.Version, a.opts.Commit
	if version == "" {
		version = "dev"
	}
	if commit == "" {
		commit = "unknown"
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "kmirror_build_info", Help: "kmirror's version; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "go_version": runtime.Version()}})
	info.Set(1)
	reg.MustRegister(info, stateCollector{a})
	return metrics{mirror: mirror.NewMetrics(reg), checkpoint: checkpoint.NewMetrics(reg), heartbeat: heartbeat.NewMetrics(reg)}
}

var (
	flowLabels  = []string{"source", "target"}
	topicLabels = []string{"source", "target", "topic"}
	groupLabels = []string{"source", "target", "group"}

	lagRecordsDesc = prometheus.NewDesc("kmirror_replication_lag_records", "Source offsets not yet copied.", topicLabels, nil)
	lagSecondsDesc = prometheus.NewDesc("kmirror_replication_lag_seconds", "Age of the oldest record not yet copied; 0 when caught up.", topicLabels, nil)
	partLagRecords = prometheus.NewDesc("kmirror_replication_lag_records", "Source offsets not yet copied.", append(topicLabels, "partition"), nil)
	partLagSeconds = prometheus.NewDesc("kmirror_replication_lag_seconds", "Age of the oldest record not yet copied; 0 when caught up.", append(topicLabels, "partition"), nil)
	segmentsDesc   = prometheus.NewDesc("kmirror_offset_map_segments", "Segments of the exact offset map held in memory.", topicLabels, nil)
	untransDesc    = prometheus.NewDesc("kmirror_group_partitions_untranslated", "Partitions whose committed offset cannot be translated (not mirrored yet, or expired).", groupLabels, nil)
	readyDesc      = prometheus.NewDesc("kmirror_group_switch_ready", "1 when the group's consumers can be switched to the target now, or already were.", groupLabels, nil)
	stoppedDesc    = prometheus.NewDesc("kmirror_partitions_stopped", "Partitions not being copied: stopped or on a blocked topic.", flowLabels, nil)
	tasksDesc      = prometheus.NewDesc("kmirror_tasks_assigned", "Copy tasks this worker runs.", flowLabels, nil)
	rebalanceDesc  = prometheus.NewDesc("kmirror_rebalances_total", "Rebalances of the flow's workers' group this worker went through, after its first.", flowLabels, nil)
	workersDesc    = prometheus.NewDesc("kmirror_flow_workers", "Workers in the flow's workers' group on the target, as this worker last saw it.", flowLabels, nil)
	progressAge    = prometheus.NewDesc("kmirror_flow_progress_age_seconds", "Time since the flow's progress last moved, on any partition; absent before it ever moved.", flowLabels, nil)
	stalledDesc    = prometheus.NewDesc("kmirror_partitions_stalled", "Partitions behind their source's end whose progress has not moved for 2 minutes.", flowLabels, nil)
)

// stateCollector reads gauges from the flows and the latest status report
// at each scrape.
type stateCollector struct{ a *App }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	// Unchecked: the lag metrics change their labels with
	// MetricsPartitions, and report only what the flows hold.
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	a.mu.Lock()
	runs := append([]*flowRun(nil), a.flows...)
	report := a.report
	a.mu.Unlock()
	for _, r := range runs {
		src, tgt := r.cfg.Source, r.cfg.Target
		parts, _, _ := r.mirror.Status()
		segments := map[string]int{}
		stopped := len(r.mirror.Blocked())
		for _, p := range parts {
			segments[p.Topic] += p.Segments
			if p.Stopped != "" {
				stopped++
			}
		}
		for topic, n := range segments {
			ch <- prometheus.MustNewConstMetric(segmentsDesc, prometheus.GaugeValue, float64(n), src, tgt, topic)
		}
		ch <- prometheus.MustNewConstMetric(stoppedDesc, prometheus.GaugeValue, float64(stopped), src, tgt)
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(r.mirror.Tasks()), src, tgt)
		ch <- prometheus.MustNewConstMetric(rebalanceDesc, prometheus.CounterValue, float64(max(0, r.mirror.Rebalances()-1)), src, tgt)
	}
	if report == nil {
		return
	}
	for _, f := range report.Flows {
		if f.Workers != nil { // nil: the group could not be described
			ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(len(f.Workers)), f.Source, f.Target)
		}
		if f.LastProgress != nil {
			ch <- prometheus.MustNewConstMetric(progressAge, prometheus.GaugeValue, max(0, report.Time.Sub(*f.LastProgress).Seconds()), f.Source, f.Target)
		}
		ch <- prometheus.MustNewConstMetric(stalledDesc, prometheus.GaugeValue, float64(len(f.Stalled)), f.Source, f.Target)
		for _, t := range f.Topics {
			ch <- prometheus.MustNewConstMetric(lagRecordsDesc, prometheus.GaugeValue, float64(t.LagRecords), f.Source, f.Target, t.Topic)
			ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, t.LagSeconds, f.Source, f.Target, t.Topic)
			if a.opts.MetricsPartitions {
				for _, p := range t.Partitions {
					part := fmt.Sprint(p.Partition)
					ch <- prometheus.MustNewConstMetric(partLagRecords, prometheus.GaugeValue, float64(p.LagRecords), f.Source, f.Target, t.Topic, part)
					ch <- prometheus.MustNewConstMetric(partLagSeconds, prometheus.GaugeValue, p.LagSeconds, f.Source, f.Target, t.Topic, part)
				}
			}
		}
		for _, g := range metricGroups(f.Groups, a.opts.MetricsGroups) {
			untranslated := 0
			for _, p := range g.Partitions {
				if p.State == status.StateNotMirrored || p.State == status.StateExpired {
					untranslated++
				}
			}
			ready := 0.0
			if g.Verdict != status.VerdictNotReady {
				ready = 1
			}
			ch <- prometheus.MustNewConstMetric(untransDesc, prometheus.GaugeValue, float64(untranslated), f.Source, f.Target, g.Group)
			ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, ready, f.Source, f.Target, g.Group)
		}
	}
}

// DefaultMetricsGroups is how many groups of a flow have per-group gauges
// by default: two series per group, so at most 2 000 per flow.
const DefaultMetricsGroups = 1000

// metricGroups are the groups that get per-group gauges: at most n
// (DefaultMetricsGroups when 0, all when negative), those not ready first, each kind in the report's order,
// so that the groups an operator waits for are the ones kept.
func metricGroups(gs []status.Group, n int) []status.Group {
	if n == 0 {
		n = DefaultMetricsGroups
	}
	if n < 0 || len(gs) <= n {
		return gs
	}
	out := make([]status.Group, 0, n)
	for _, notReady := range []bool{true, false} {
		for _, g := range gs {
			if len(out) == n {
				return out
			}
			if (g.Verdict == status.VerdictNotReady) == notReady {
				out = append(out, g)
			}
		}
	}
	return out
}
