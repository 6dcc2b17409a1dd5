// Package discover is kmirror's discovery: what a flow copies and follows,
// as it stands on the clusters now. It owns
//   - topic selection (topics.go): which source topics the flow copies,
//     which it skips and why (internal topics, replicas of the target, the
//     topics and topics.exclude patterns), and each one's name on the target;
//   - the target topics (target.go): created or grown as
//     topic.creation.enable allows, with the source's configs when
//     sync.topic.configs.enabled; those that cannot be copied are Blocked,
//     with the reason;
//   - group selection (groups.go): the source consumer groups the flow
//     follows;
//   - the plan (plan.go): what the flow would copy, create and follow,
//     and how the target topics' configs differ, without writing
//     anything, for `kmirror plan`.
//
// It exists apart from the copy path (package mirror) so that the commands
// that only look (plan, status, preflight, migrate) discover by the same
// rules as a running worker without importing the copy engine. A running
// flow re-runs discovery on its interval and keeps the configs and ACLs of
// its target topics in line itself; what it copies is mirror's.
package discover
