// Package discover is kmirror's discovery: which source topics a flow
// copies and under which target names.
//
// It exists apart from the copy path (package mirror) so that the
// commands that only look (plan, status, preflight, migrate) select topics
// by the same rules as a running worker without importing the copy engine.
package discover
