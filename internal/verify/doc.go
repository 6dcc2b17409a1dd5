// Package verify compares what a flow mirrored with its source, record by
// record: `kmirror verify`. It exists because "the offsets line up" is not
// the same as "the data is the same": before switching consumers and
// producers to the target, an operator wants proof that every source record
// reached the target unchanged, in order, and that nothing else is there.
//
// The comparison follows kmirror's exact offset map (progress.Read):
// each copied source record has one target offset, so the two logs are
// walked together, streaming, without holding either in memory. Over the
// mirrored range of each source partition it reports records that are
// altered (key, value, headers or timestamp differ), missing (a source
// record with no target record at its place) and extra (a target record in
// the mirrored target range that no source record maps to).
//
// Partitions are compared in parallel by a bounded number of workers; each
// worker reads its partitions one after the other with one client per
// cluster, so that memory stays bounded by a fetch per side per worker.
package verify
