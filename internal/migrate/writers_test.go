package migrate

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestWritten(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const window = 10 * time.Second
	producer := func(id int64, last time.Duration, txnStart int64) kadm.DescribedProducer {
		return kadm.DescribedProducer{ProducerID: id, LastTimestamp: now.Add(-last).UnixMilli(), CurrentTxnStartOffset: txnStart}
	}
	for _, tt := range []struct {
		name      string
		look      partitionLook
		endMoved  time.Time
		written   bool
		producers []int64
		openFrom  int64
	}{
		{name: "nothing known", look: partitionLook{end: 10, stable: 10}, written: false, openFrom: -1},
		{name: "end moved within the window", look: partitionLook{end: 10, stable: 10}, endMoved: now.Add(-2 * time.Second), written: true, openFrom: -1},
		{name: "end moved before the window", look: partitionLook{end: 10, stable: 10}, endMoved: now.Add(-11 * time.Second), written: false, openFrom: -1},
		{name: "open transaction by the last stable offset", look: partitionLook{end: 10, stable: 7}, written: true, openFrom: 7},
		{name: "last stable offset unknown", look: partitionLook{end: 10, stable: -1}, written: false, openFrom: -1},
		{name: "producer wrote within the window",
			look:    partitionLook{end: 10, stable: 10, producers: []kadm.DescribedProducer{producer(1, 3*time.Second, -1), producer(2, time.Hour, -1)}},
			written: true, producers: []int64{1}, openFrom: -1},
		{name: "producers of long ago are left out",
			look:    partitionLook{end: 10, stable: 10, producers: []kadm.DescribedProducer{producer(2, time.Hour, -1)}},
			written: false, openFrom: -1},
		{name: "a producer's open transaction, however old",
			look:    partitionLook{end: 10, stable: 4, producers: []kadm.DescribedProducer{producer(3, time.Hour, 4)}},
			written: true, producers: []int64{3}, openFrom: 4},
		{name: "a timestamp far ahead is no evidence",
			look:    partitionLook{end: 10, stable: 10, producers: []kadm.DescribedProducer{producer(4, -time.Hour, -1)}},
			written: false, openFrom: -1},
		{name: "latest writer first",
			look:    partitionLook{end: 10, stable: 10, producers: []kadm.DescribedProducer{producer(5, 5*time.Second, -1), producer(6, time.Second, -1)}},
			written: true, producers: []int64{6, 5}, openFrom: -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := written("source", "t", 0, tt.look, tt.endMoved, now, window)
			if ok != tt.written {
				t.Fatalf("written = %v, want %v (%+v)", ok, tt.written, w)
			}
			var ids []int64
			for _, p := range w.Producers {
				ids = append(ids, p.ID)
			}
			if len(ids) != len(tt.producers) || w.OpenFrom != tt.openFrom {
				t.Fatalf("producers %v, open from %d; want %v, %d", ids, w.OpenFrom, tt.producers, tt.openFrom)
			}
			for i := range ids {
				if ids[i] != tt.producers[i] {
					t.Fatalf("producers %v, want %v", ids, tt.producers)
				}
			}
		})
	}
}

func TestDrainedNeedsTheQuietWindow(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   DrainState
		want bool
	}{
		{"copied and quiet", DrainState{Quiet: 10 * time.Second, Window: 10 * time.Second}, true},
		{"copied, not quiet long enough", DrainState{Quiet: 9 * time.Second, Window: 10 * time.Second}, false},
		{"quiet, records remain", DrainState{Remaining: 1, Partitions: []string{"t[0]"}, Quiet: time.Minute, Window: 10 * time.Second}, false},
		{"copied, still written", DrainState{Written: []Written{{Topic: "t"}}, Quiet: time.Minute, Window: 10 * time.Second}, false},
	} {
		if got := tt.st.Drained(); got != tt.want {
			t.Errorf("%s: Drained() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
