package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newCluster starts an in-process kfake cluster and returns a client of it.
func newCluster(t *testing.T) *kgo.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// numbered is n records of about 1 KiB for each partition, their values
// starting "partition/index/".
func numbered(topic string, partitions, n int) []*kgo.Record {
	var recs []*kgo.Record
	for p := range partitions {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(fmt.Sprintf("%d/%d/", p, i) + strings.Repeat("x", 1000))})
		}
	}
	return recs
}

// abortTail writes records to every partition in a transaction and aborts
// it: the partitions end with aborted records and their marker.
func abortTail(ctx context.Context, t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	tx, err := kgo.NewClient(append(cl.Opts(), kgo.TransactionalID("abort-tail"), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// lastRecords finds every partition's last committed record: when a fetch
// response is cut at its byte limit (with many partitions, those after the
// cut come back empty although they hold records), and when a partition
// ends with an aborted transaction.
func TestLastRecords(t *testing.T) {
	const topic, partitions, perPartition = "many", 64, 20
	tests := []struct {
		name    string
		opts    []kgo.Opt
		aborted bool
	}{
		// A few records' worth per response: most partitions of each
		// response are past the cut.
		{name: "byte-limited fetch", opts: []kgo.Opt{kgo.FetchMaxBytes(8 << 10), kgo.FetchMaxPartitionBytes(4 << 10)}},
		{name: "aborted tail", aborted: true},
		{name: "aborted tail, byte-limited fetch", opts: []kgo.Opt{kgo.FetchMaxBytes(8 << 10), kgo.FetchMaxPartitionBytes(4 << 10)}, aborted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cl := newCluster(t)
			adm := kadm.NewClient(cl)
			if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			if err := produceTo(ctx, cl, numbered(topic, partitions, perPartition)); err != nil {
				t.Fatal(err)
			}
			if tt.aborted {
				abortTail(ctx, t, cl, numbered(topic, partitions, 3))
			}
			ends, err := endOffsets(ctx, adm, topic)
			if err != nil {
				t.Fatal(err)
			}
			lasts, err := lastRecords(ctx, append(cl.Opts(), tt.opts...), topic, ends)
			if err != nil {
				t.Fatal(err)
			}
			for p := range int32(partitions) {
				want := fmt.Sprintf("%d/%d/", p, perPartition-1)
				switch r := lasts[p]; {
				case r == nil:
					t.Errorf("partition %d: no last record", p)
				case r.Offset != perPartition-1 || !strings.HasPrefix(string(r.Value), want):
					t.Errorf("partition %d: last record at offset %d %.10q, want offset %d %q", p, r.Offset, r.Value, perPartition-1, want)
				}
			}
		})
	}
}
