// Package checkpoint carries consumer-group progress from the source to the
// target: for each selected group it translates the committed source
// offsets with the flow's exact offset map, writes MM2-format checkpoints to
// <source>.checkpoints.internal on the target (so that Java applications
// calling RemoteClusterUtils.translateOffsets keep working), and, with
// sync.group.offsets.enabled, commits the translated offsets to the same
// group on the target while it has no active members there. It reads
// translations through the running flow's progress.View and reports what it
// did as counts (Stats) and errors; whether a group may switch is package
// status's verdict, computed from the clusters.
package checkpoint
