// Package journal keeps the story of a migration: what happened to each
// topic and consumer group of a flow, when, and what established it
// (mirroring started, caught up, a group translated, a migrate ready
// verdict, consumers seen on the target, a drain, a verify result, a topic
// leaving the selection, a rollback). Every worker and every later kmirror
// command reads the same story from one compacted topic on the target,
// kmirror-journal.<source>.internal, beside the progress topic.
//
// The journal answers what the clusters alone cannot: a topic that left
// the allow-list after a successful verification is done, not absent; a
// group whose consumers moved to the target was switched, whatever the
// selection says now. Phase derives, from the journal and what the
// clusters show now, where each topic and group stands in the seed's steps
// (a)–(e).
//
// Records are JSON, so that an operator can read them with any consumer:
//
//	key:   {"v":1,"flow":"A->B","topic":"orders","event":"verified"}
//	       (or "group" in place of "topic")
//	value: {"v":1,"time":"2026-12-01T06:30:00.123Z","by":"kmirror verify",
//	        "verdict":"identical","reasons":[…],"counts":{"records":1000},
//	        "topics":[…]}  (a group event: the topics the group reads)
//
// The key names one step of one subject, so compaction keeps the latest
// record of each step. A record that is not this format (another tool's,
// a newer version's) is reported by Decode and skipped by readers.
package journal
