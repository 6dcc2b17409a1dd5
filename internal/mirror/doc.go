// Package mirror is kmirror's copy path. For one flow it discovers the
// selected source topics, creates or grows the target topics, splits the
// partitions into tasks, and copies every record to the same partition of the
// mapped target topic, keeping key, value, headers, timestamp and order.
//
// Progress (how far each source partition is copied) lives on the target
// cluster only, in kmirror's progress topic, so the source may be read-only.
// The exact offset map learnt from produce acknowledgements is persisted to
// the offset-syncs topic before the progress that covers it, so that a
// translation never claims more than was durably recorded.
package mirror
