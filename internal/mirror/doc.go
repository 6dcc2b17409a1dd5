// Package mirror is kmirror's copy path. A Flow holds, for one configured
// flow, what lasts across runs: its settings, its place in the workers'
// group, and
//   - the catalogue (catalogue.go; refresh.go, sync.go, reconfigure.go run
//     it): the selection, discovery (package discover) re-run on its
//     interval, the target topics' configs and ACLs kept in sync, what is
//     ready to copy and what is blocked and why.
//
// Each Run opens a run (flow.go), complete before the group can give the
// worker anything to copy, whose parts each have their own lock:
//   - conn (conn.go): the clients and the clusters' ids;
//   - the starter (load.go, resume.go, takeover.go): where each partition
//     starts, from its saved progress, from where MirrorMaker 2 left it, or
//     from the source's start, comparing the target's tail with the source
//     where a previous owner copied past what it persisted; `plan` makes
//     one for a dry run, which writes nothing;
//   - the copier (copier.go, task.go, partition.go, retention.go): the
//     partitions the group gives this worker (share.go), split into tasks,
//     each fetching record batches as bytes (package batch); each record
//     copied to the same partition of the mapped target topic with its
//     key, value, headers and timestamp, in order — outside exactly-once
//     mode by the batch path (forward.go), which forwards a source batch
//     as it is where nothing in it changes and re-encodes the rest, all
//     through the run's batch producer; what is persisted as it copies
//     (persist.go);
//   - in exactly-once mode the slots (slot.go): the group gives slots of
//     partitions, and each slot copies in transactions of its own;
//   - with a pair under the same names, its maps followed (pair.go), so
//     that its copies are not copied back.
//
// Progress lives on the target cluster only, so the source may be
// read-only. The exact offset map learnt from produce acknowledgements is
// persisted before the progress that covers it (in exactly-once mode, in
// the same transaction as the copies), so that a translation never claims
// more than was durably recorded. Flow.View is what the flow knows, for
// the checkpoints (the partitions this worker copies) or the status (all).
package mirror
