// Package policy decides which topics and groups a flow selects and what the
// selected topics are called on the target cluster.
//
// It reproduces MirrorMaker 2's semantics exactly, because operators bring
// MM2 configurations: a pattern is a comma-separated list of Java regular
// expressions, each matched against the whole name (Java's matches()), and a
// replication policy maps a source topic name onto a target topic name
// (Default: "<source alias><separator><topic>", Identity: unchanged).
package policy
