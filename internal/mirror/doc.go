// Package mirror is kmirror's copy path. A Flow wires three parts for one
// configured flow:
//   - the topic catalogue (refresh.go, sync.go, reconfigure.go): discovery
//     (package discover) re-run on its interval, the target topics' configs
//     and ACLs kept in sync, and which topics are blocked and why;
//   - the copier (task.go, partition.go, share.go, retention.go): the
//     partitions the workers' group gives this worker, split into tasks,
//     each record copied to the same partition of the mapped target topic
//     with its key, value, headers and timestamp, in order; in
//     exactly-once mode (slot.go) the group gives slots of partitions, and
//     each slot copies in transactions of its own;
//   - the progress store of package progress (load.go, persist.go,
//     resume.go, takeover.go): where each partition starts, from its saved
//     progress, from where MirrorMaker 2 left it, or from the source's
//     start; and what is persisted as it copies.
//
// Progress lives on the target cluster only, so the source may be
// read-only. The exact offset map learnt from produce acknowledgements is
// persisted before the progress that covers it (in exactly-once mode, in
// the same transaction as the copies), so that a translation never claims
// more than was durably recorded. A Flow is also a progress.View of
// the partitions it copies.
package mirror
