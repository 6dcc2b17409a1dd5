package deploy

// Metrics are the metrics kmirror serves on /metrics, with their label
// names, as the dashboard and the alert rules use them. internal/app's
// metrics test checks the list against what a running worker serves; when
// the metrics change, change the list, then the dashboard and the rules. "partition" is listed for the lag gauges because --metrics-partitions
// adds it.
var Metrics = []Metric{
	{"kmirror_build_info", "gauge", []string{"version", "commit", "go_version"}},
	{"kmirror_records_copied_total", "counter", []string{"source", "target", "topic"}},
	{"kmirror_bytes_copied_total", "counter", []string{"source", "target", "topic"}},
	{"kmirror_batches_copied_total", "counter", []string{"source", "target", "topic", "path"}},
	{"kmirror_replication_lag_records", "gauge", []string{"source", "target", "topic", "partition"}},
	{"kmirror_replication_lag_seconds", "gauge", []string{"source", "target", "topic", "partition"}},
	{"kmirror_replication_latency_seconds", "histogram", []string{"source", "target"}},
	{"kmirror_heartbeat_rtt_seconds", "histogram", []string{"source", "target"}},
	{"kmirror_heartbeat_last_success_timestamp_seconds", "gauge", []string{"source", "target"}},
	{"kmirror_offset_map_segments", "gauge", []string{"source", "target", "topic"}},
	{"kmirror_checkpoint_round_duration_seconds", "histogram", []string{"source", "target"}},
	{"kmirror_checkpoints_emitted_total", "counter", []string{"source", "target"}},
	{"kmirror_group_offset_syncs_total", "counter", []string{"source", "target", "group"}},
	{"kmirror_group_partitions_untranslated", "gauge", []string{"source", "target", "group"}},
	{"kmirror_group_switch_ready", "gauge", []string{"source", "target", "group"}},
	{"kmirror_data_loss_gaps_total", "counter", []string{"source", "target", "topic"}},
	{"kmirror_data_loss_records_total", "counter", []string{"source", "target", "topic"}},
	{"kmirror_partitions_stopped", "gauge", []string{"source", "target"}},
	{"kmirror_tasks_assigned", "gauge", []string{"source", "target"}},
	{"kmirror_rebalances_total", "counter", []string{"source", "target"}},
	{"kmirror_transactions_total", "counter", []string{"source", "target", "result"}},
	{"kmirror_flow_workers", "gauge", []string{"source", "target"}},
	{"kmirror_flow_progress_age_seconds", "gauge", []string{"source", "target"}},
	{"kmirror_partitions_stalled", "gauge", []string{"source", "target"}},
}

// Metric is a metric's name, type and label names.
type Metric struct {
	Name   string
	Type   string // counter, gauge or histogram
	Labels []string
}
