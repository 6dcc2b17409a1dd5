// Package status computes the state of a migration from the clusters
// themselves: per topic, the replication lag in records and seconds and the
// copy rate; per consumer group and partition, the committed source offset,
// its exact translation, the target commit, and a verdict on whether the
// group's consumers can be switched to the target. The status command, the
// migrate checks and the HTTP API all read it.
package status
