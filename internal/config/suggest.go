package config

import "strings"

// suggest returns the known key closest to key, or "" when none is close.
// Underscores and dashes count as dots, so offset_flush_timeout finds
// offset.flush.timeout.ms.
func suggest(key string, known []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", ".", "-", ".").Replace(strings.ToLower(s))
	}
	k := norm(key)
	best, bestDist := "", -1
	for _, c := range known {
		d := distance(k, norm(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > max(2, len(key)/4) {
		return ""
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func didYouMean(s string) string {
	if s == "" {
		return ""
	}
	return "; did you mean " + s + "?"
}
