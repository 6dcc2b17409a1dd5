package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/batch"
	"github.com/kmirror/kmirror/internal/batch/batchtest"
	"github.com/kmirror/kmirror/internal/testbed"
)

// Source batches are forwarded byte for byte: for each codec, every batch
// of the target holds the very records section of the source's batch at
// the same place (compressed data unchanged, never decompressed), and
// franz-go, librdkafka and the Java client read every record, in order,
// from the target. With batch.forwarding: same-codec, a batch of another
// codec is re-encoded with producer.compression.type instead. The metrics
// count both paths.
func TestForwardedBatches(t *testing.T) {
	t.Logf("bed: %s", bedName())
	src, tgt := clusters(t)
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
		want  batch.Codec
	}{
		{"none", kgo.NoCompression(), batch.None},
		{"gzip", kgo.GzipCompression(), batch.Gzip},
		{"snappy", kgo.SnappyCompression(), batch.Snappy},
		{"lz4", kgo.Lz4Compression(), batch.Lz4},
		{"zstd", kgo.ZstdCompression(), batch.Zstd},
	}
	const parts, perPart = 3, 600
	prefix := uniq(t, "fw")
	topic := func(codec string) string { return prefix + "-" + codec }
	for _, c := range codecs {
		src.createTopic(t, topic(c.name), parts, nil)
	}
	// Records of about 1 KiB, some with headers and null keys, batched by
	// a linger; half before kmirror starts, half while it copies.
	write := func(from, to int) {
		t.Helper()
		for _, c := range codecs {
			cl := src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(20*time.Millisecond), kgo.ProducerBatchMaxBytes(16<<10))
			var recs []*kgo.Record
			for p := range int32(parts) {
				for i := from; i < to; i++ {
					r := &kgo.Record{Topic: topic(c.name), Partition: p, Key: fmt.Appendf(nil, "k%d", i%17),
						Value: fmt.Appendf(nil, "%s %s/%d", strings.Repeat(fmt.Sprintf("%s-%d-%d ", c.name, p, i), 40), fmt.Sprint(p), i)}
					if i%5 == 0 {
						r.Key = nil
					}
					if i%3 == 0 {
						r.Headers = []kgo.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}, {Key: "nil"}}
					}
					recs = append(recs, r)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := cl.ProduceSync(ctx, recs...).FirstErr()
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			cl.Close()
		}
	}
	write(0, perPart/2)

	alias := uniq(t, "fw-src")
	cfg := flowConfig(t, side{alias: alias, addr: src.Addr}, side{alias: "fw-tgt", addr: tgt.Addr}, fmt.Sprintf(`    topicsPattern: "%s-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
`, prefix))
	w := start(t, "run", "-c", cfg, "--http", "127.0.0.1:0")
	w.waitFor(t, "serving HTTP", 30*time.Second)
	m := regexp.MustCompile(`"serving HTTP" addr=(\S+)`).FindStringSubmatch(w.output())
	if m == nil {
		t.Fatalf("no HTTP address logged:\n%s", w.output())
	}
	w.waitFor(t, "running; stop with SIGINT or SIGTERM", time.Minute)
	write(perPart/2, perPart)

	batches := 0
	for _, c := range codecs {
		name := topic(c.name)
		tgt.waitEnds(t, name, src.EndOffsets(t, name), 2*time.Minute)
		for p := range int32(parts) {
			a, b := batchtest.Read(t, &src.Brokers, name, p), batchtest.Read(t, &tgt.Brokers, name, p)
			if len(a) != len(b) {
				t.Fatalf("%s[%d]: %d batches on the source, %d on the target", name, p, len(a), len(b))
			}
			for i := range a {
				if a[i].Codec() != c.want || b[i].Codec() != c.want || a[i].Records() != b[i].Records() || a[i].BaseOffset() != b[i].BaseOffset() ||
					!bytes.Equal(a[i].Section(), b[i].Section()) {
					t.Fatalf("%s[%d] batch %d: source %s at %d with %d records, target %s at %d with %d records, records sections equal: %v",
						name, p, i, a[i].Codec(), a[i].BaseOffset(), a[i].Records(), b[i].Codec(), b[i].BaseOffset(), b[i].Records(),
						bytes.Equal(a[i].Section(), b[i].Section()))
				}
			}
			if len(a) >= perPart/2 {
				t.Fatalf("set-up: %s[%d] was written in %d batches of about one record", name, p, len(a))
			}
			batches += len(a)
			want, got := src.Read(t, name, p), tgt.Read(t, name, p)
			for i := range want {
				if err := testbed.SameRecord(want[i], got[i]); err != nil {
					t.Fatalf("%s[%d] record %d: %v", name, p, i, err)
				}
			}
		}
	}
	metric := func(path string) string {
		return fmt.Sprintf(`kmirror_batches_copied_total{path=%q,source=%q,target="fw-tgt",topic=%q}`, path, alias, topic("zstd"))
	}
	testbed.WaitFor(t, 30*time.Second, "the metrics to count forwarded batches only", func() bool {
		body := httpGet(t, "http://"+m[1]+"/metrics")
		return strings.Contains(body, metric("forwarded")) && strings.Contains(body, metric("re-encoded")+" 0")
	})
	t.Logf("%d batches forwarded byte for byte", batches)

	// Every consumer reads the forwarded batches: offsets and values in
	// order, each partition whole.
	for _, client := range switchClients {
		if why := client.skip("classic"); why != "" {
			t.Logf("%s: %s", client.name, why)
			continue
		}
		for _, c := range codecs {
			r := client.start(t, tgt.Addr, uniq(t, "fw-reader-"+client.name+"-"+c.name), topic(c.name), "classic", "earliest", "read_uncommitted")
			testbed.WaitFor(t, 2*time.Minute, client.name+" to read "+topic(c.name), func() bool { return everyPartition(r.seen(), parts, perPart) })
			r.stop(t)
			for p, recs := range r.seen() {
				for i, rec := range recs[:perPart] {
					if rec.offset != int64(i) || rec.seq != int64(i) {
						t.Fatalf("%s read %s[%d] record %d at offset %d with sequence %d", client.name, topic(c.name), p, i, rec.offset, rec.seq)
					}
				}
			}
		}
	}
	stopWorker(t, w)

	// same-codec: the zstd topic's batches are re-encoded with gzip.
	cfg = flowConfig(t, side{alias: alias + "-gz", addr: src.Addr}, side{alias: "fw-tgt-gz", addr: tgt.Addr}, fmt.Sprintf(`    topicsPattern: "%s"
    sourceConnector:
      config:
        replication.policy.class: default
        batch.forwarding: same-codec
        producer.compression.type: gzip
`, topic("zstd")))
	w = runWorker(t, cfg)
	remote := alias + "-gz." + topic("zstd")
	tgt.waitEnds(t, remote, src.EndOffsets(t, topic("zstd")), 2*time.Minute)
	for p := range int32(parts) {
		for _, b := range batchtest.Read(t, &tgt.Brokers, remote, p) {
			if b.Codec() != batch.Gzip {
				t.Fatalf("%s[%d]: a batch at %d of codec %s, want gzip", remote, p, b.BaseOffset(), b.Codec())
			}
		}
		want, got := src.Read(t, topic("zstd"), p), tgt.Read(t, remote, p)
		if len(want) != len(got) {
			t.Fatalf("%s[%d]: %d records, want %d", remote, p, len(got), len(want))
		}
		for i := range want {
			if err := testbed.SameRecord(want[i], got[i]); err != nil {
				t.Fatalf("%s[%d] record %d: %v", remote, p, i, err)
			}
		}
	}
	stopWorker(t, w)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
