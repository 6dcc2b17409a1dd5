package journal

import (
	"maps"
	"slices"
	"strings"
)

// countOrder is the order in which an event's counts read: what was
// copied or compared first, then what differs, then the detail. verify
// writes compared, identical, missing, extra, altered, notMirrored,
// recreated and partitions; run copied, partitions and members.
var countOrder = []string{"copied", "records", "compared", "identical", "missing", "extra", "altered", "notMirrored", "recreated", "partitions", "members"}

// CountNames lists the names of counts in the order they read best (see
// countOrder), names it does not know after them in alphabetical order:
// the one order of every listing of counts (status, the page, migrate
// report).
func CountNames(counts map[string]int64) []string {
	names := slices.Collect(maps.Keys(counts))
	slices.SortFunc(names, func(a, b string) int {
		ia, ib := slices.Index(countOrder, a), slices.Index(countOrder, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	return names
}
