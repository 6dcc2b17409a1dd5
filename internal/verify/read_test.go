package verify

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/testbed"
)

// TestReaderRanges reads ranges one after the other with one reader,
// including ranges that end past the log's end, which only the probe of
// the leader can end.
func TestReaderRanges(t *testing.T) {
	c := testbed.NewCluster(t)
	if err := c.CreateTopic("logs", 2, nil); err != nil {
		t.Fatal(err)
	}
	c.Produce(t, keyed("logs", 2, 20)) // offsets 0..9 in each partition
	td, err := kadm.NewClient(c.Client(t)).ListTopics(context.Background(), "logs")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReader("kafka", false, 300*time.Millisecond, []kgo.Opt{kgo.SeedBrokers(c.Addr), kgo.FetchMaxWait(100 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	tests := []struct {
		name      string
		partition int32
		from, end int64
		want      int64 // records
	}{
		{"whole log", 0, 0, 10, 10},
		{"inside", 1, 3, 5, 2},
		{"past the end", 0, 8, 12, 2},
		{"after the end", 1, 10, 20, 0},
		{"empty", 0, 4, 4, 0},
		{"again, from the middle", 0, 2, 10, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			rr := r.open("logs", td["logs"].ID, tt.partition, tt.from, tt.end)
			want := tt.from
			for {
				rec, err := rr.next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rec == nil {
					break
				}
				if rec.Offset != want || rec.Partition != tt.partition {
					t.Fatalf("record %d[%d], want %d[%d]", rec.Partition, rec.Offset, tt.partition, want)
				}
				want++
			}
			if got := want - tt.from; got != tt.want {
				t.Errorf("%d records, want %d", got, tt.want)
			}
		})
	}
}
