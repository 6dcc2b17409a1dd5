// Package offsetmap keeps the exact correspondence of source offsets to
// target offsets for each mirrored partition.
//
// Copying a partition keeps record order, but not offsets: compaction gaps,
// transaction markers, aborted records and restarts make the difference
// between a source offset and its target offset change. The map stores one
// segment each time that difference changes, learnt from produce
// acknowledgements, so that any committed source offset translates to the
// exact target offset of the first copied record at or after it. MM2 keeps
// only sparse samples and translates approximately.
package offsetmap
