// Package progress owns what kmirror knows of each source partition it
// copies: how far it is copied (the progress topic on the target), the
// exact offset map (the offset-syncs topic), MirrorMaker 2's offset syncs
// of a partition kmirror took over from MM2, and why a partition is
// stopped.
//
// It holds the record formats of both topics, the Store a running flow
// persists through (offset syncs first, then the progress that covers
// them, so that a translation never claims more than was durably
// recorded), the Cache that follows both topics for a long-lived reader,
// Pair, the one reader outside the workers of a flow and of its paired
// flow (the flow that copies the other way under the same topic names,
// whose map a translation through the pair needs), and View: the one read
// interface (how far a partition is copied, and how a committed offset
// translates) that checkpoints, status, verify and migrate use, whether
// the answer comes from a running worker's memory or from the clusters.
// Where the two topics live is config.Flow's answer (OffsetSyncs,
// ProgressTopic), so that it is decided once.
package progress
