package cli

import "testing"

// A worker's partitions print as ranges: a worker of 40 000 partitions
// prints one line, not 40 000 numbers.
func TestJoinInts(t *testing.T) {
	for _, tc := range []struct {
		in   []int32
		want string
	}{
		{nil, ""},
		{[]int32{3}, "3"},
		{[]int32{1, 0}, "0,1"},
		{[]int32{2, 0, 1}, "0-2"},
		{[]int32{0, 1, 2, 3, 7, 9, 10, 12, 13, 14}, "0-3,7,9,10,12-14"},
	} {
		if got := joinInts(tc.in); got != tc.want {
			t.Errorf("joinInts(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
