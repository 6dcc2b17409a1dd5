package mirror

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmirror/kmirror/internal/progress"
)

// A topic's partitions fill the slots evenly: n consecutive partitions
// take n different slots, and every slot is in range.
func TestSlotOf(t *testing.T) {
	for _, n := range []int{1, 3, 8, 1024} {
		for _, topic := range []string{"orders", "app1-t1", ""} {
			seen := map[int32]bool{}
			for p := range int32(n) {
				s := slotOf(progress.Partition{Topic: topic, Partition: p}, n)
				if s < 0 || s >= int32(n) {
					t.Fatalf("slotOf(%s[%d], %d) = %d, out of range", topic, p, n, s)
				}
				seen[s] = true
			}
			if len(seen) != n {
				t.Errorf("%d partitions of %q take %d of %d slots", n, topic, len(seen), n)
			}
		}
	}
}

// Errors a new transaction escapes restart the slot; the others stop the
// flow.
func TestPermanent(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{kerr.TopicAuthorizationFailed, true},
		{kerr.MessageTooLarge, true},
		{fmt.Errorf("copy t[0] at offset 3: %w", kerr.RecordListTooLarge), true},
		{kerr.ProducerFenced, false},
		{kerr.InvalidProducerEpoch, false},
		{kerr.TransactionAbortable, false},
		{kerr.NotLeaderForPartition, false}, // retriable
		{fmt.Errorf("client closed"), false},
	} {
		if got := permanent(c.err); got != c.want {
			t.Errorf("permanent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
