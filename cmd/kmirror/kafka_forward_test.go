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
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/testbed"
)

// Source batches are forwarded byte for byte: for each codec, every batch
// of the target holds the very records section of the source's batch at
// the same place (compressed data unchanged, never decompressed), but for
// small uncompressed batches, which are gathered into larger ones; and
// franz-go, librdkafka and the Java client read every record, in order,
// from the target. With batch.forwarding: same-codec, a batch of another
// codec is re-encoded with producer.compression.type instead. The metrics
// count both paths.
func TestForwardedBatches(t *testing.T) {
	t.Logf("bed: %s", bedName())
	src, tgt := clusters(t)
	// Batches of 16 KiB, and uncompressed ones of about 500 KB: those of
	// 16 KiB are gathered when uncompressed, the others forwarded.
	codecs := []struct {
		name     string
		codec    kgo.CompressionCodec
		want     batch.Codec
		repeat   int   // a value's length, in words of about 11 bytes
		maxBytes int32 // the source producer's batch limit
	}{
		{"none", kgo.NoCompression(), batch.None, 40, 16 << 10},
		{"none-large", kgo.NoCompression(), batch.None, 150, 1 << 20},
		{"gzip", kgo.GzipCompression(), batch.Gzip, 40, 16 << 10},
		{"snappy", kgo.SnappyCompression(), batch.Snappy, 40, 16 << 10},
		{"lz4", kgo.Lz4Compression(), batch.Lz4, 40, 16 << 10},
		{"zstd", kgo.ZstdCompression(), batch.Zstd, 40, 16 << 10},
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
			cl := src.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(20*time.Millisecond), kgo.ProducerBatchMaxBytes(c.maxBytes))
			var recs []*kgo.Record
			for p := range int32(parts) {
				for i := from; i < to; i++ {
					r := &kgo.Record{Topic: topic(c.name), Partition: p, Key: fmt.Appendf(nil, "k%d", i%17),
						Value: fmt.Appendf(nil, "%s %s/%d", strings.Repeat(fmt.Sprintf("%s-%d-%d ", c.name, p, i), c.repeat), fmt.Sprint(p), i)}
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
	// gzip for what is re-encoded: forwarded batches keep their codec,
	// and gathered ones stay uncompressed, as their source batches were.
	cfg := flowConfig(t, side{alias: alias, addr: src.Addr}, side{alias: "fw-tgt", addr: tgt.Addr}, fmt.Sprintf(`    topicsPattern: "%s-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
        producer.compression.type: gzip
`, prefix))
	w := start(t, "run", "-c", cfg, "--http", "127.0.0.1:0")
	w.waitFor(t, "serving HTTP", 30*time.Second)
	m := regexp.MustCompile(`"serving HTTP" addr=(\S+)`).FindStringSubmatch(w.output())
	if m == nil {
		t.Fatalf("no HTTP address logged:\n%s", w.output())
	}
	w.waitFor(t, "running; stop with SIGINT or SIGTERM", time.Minute)
	write(perPart/2, perPart)

	forwarded, gathered := map[string]int{}, map[string]int{}
	for _, c := range codecs {
		name := topic(c.name)
		tgt.waitEnds(t, name, src.EndOffsets(t, name), 2*time.Minute)
		for p := range int32(parts) {
			a, b := batchtest.Read(t, &src.Brokers, name, p), batchtest.Read(t, &tgt.Brokers, name, p)
			for i := range a {
				if a[i].Codec() != c.want {
					t.Fatalf("set-up: %s[%d] batch %d is %s", name, p, i, a[i].Codec())
				}
			}
			if len(a) >= perPart/2 {
				t.Fatalf("set-up: %s[%d] was written in %d batches of about one record", name, p, len(a))
			}
			f, g, err := forwardedOrGathered(a, b, mirror.GatherBelow(1000012))
			if err != nil {
				t.Fatalf("%s[%d]: %v", name, p, err)
			}
			forwarded[c.name] += f
			gathered[c.name] += g
			want, got := src.Read(t, name, p), tgt.Read(t, name, p)
			if len(want) != len(got) {
				t.Fatalf("%s[%d]: %d records, want %d", name, p, len(got), len(want))
			}
			for i := range want {
				if err := testbed.SameRecord(want[i], got[i]); err != nil {
					t.Fatalf("%s[%d] record %d: %v", name, p, i, err)
				}
			}
		}
	}
	t.Logf("batches forwarded byte for byte: %v; gathered: %v", forwarded, gathered)
	for _, c := range codecs {
		bad := forwarded[c.name] == 0 || gathered[c.name] > 0 // compressed: every batch forwarded
		switch c.name {
		case "none":
			bad = forwarded[c.name] > 0 || gathered[c.name] == 0
		case "none-large":
			bad = forwarded[c.name] == 0
		}
		if bad {
			t.Fatalf("%s: %d batches forwarded, %d gathered", c.name, forwarded[c.name], gathered[c.name])
		}
	}
	metric := func(path string) string {
		return fmt.Sprintf(`kmirror_batches_copied_total{path=%q,source=%q,target="fw-tgt",topic=%q}`, path, alias, topic("zstd"))
	}
	testbed.WaitFor(t, 30*time.Second, "the metrics to count forwarded batches only", func() bool {
		body := httpGet(t, "http://"+m[1]+"/metrics")
		return strings.Contains(body, metric("forwarded")) && strings.Contains(body, metric("re-encoded")+" 0")
	})

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

// forwardedOrGathered checks a partition's target batches b against its
// source batches a: a compressed source batch, or an uncompressed one of
// gatherBelow bytes or more, is on the target as it is (records section,
// codec, base offset and count); a run of smaller uncompressed ones is
// gathered into uncompressed batches that start where the run does and end
// within it. It counts the target batches of each kind.
func forwardedOrGathered(a, b []batch.Batch, gatherBelow int) (forwarded, gathered int, err error) {
	small := func(x batch.Batch) bool { return x.Codec() == batch.None && len(x.Section()) < gatherBelow }
	j := 0
	for i := 0; i < len(a); {
		if j == len(b) {
			return 0, 0, fmt.Errorf("the source's batch at %d is not on the target", a[i].BaseOffset())
		}
		if !small(a[i]) {
			if a[i].BaseOffset() != b[j].BaseOffset() || a[i].Records() != b[j].Records() || a[i].Codec() != b[j].Codec() || !bytes.Equal(a[i].Section(), b[j].Section()) {
				return 0, 0, fmt.Errorf("source batch %d, %s at %d with %d records, not forwarded as it is: the target's is %s at %d with %d records",
					i, a[i].Codec(), a[i].BaseOffset(), a[i].Records(), b[j].Codec(), b[j].BaseOffset(), b[j].Records())
			}
			forwarded++
			i, j = i+1, j+1
			continue
		}
		end := i
		for end < len(a) && small(a[end]) {
			end++
		}
		if b[j].BaseOffset() != a[i].BaseOffset() {
			return 0, 0, fmt.Errorf("small source batches from %d on: the target's batch starts at %d", a[i].BaseOffset(), b[j].BaseOffset())
		}
		for stop := a[end-1].NextOffset(); j < len(b) && b[j].BaseOffset() < stop; j++ {
			if b[j].NextOffset() > stop || b[j].Codec() != batch.None {
				return 0, 0, fmt.Errorf("small source batches %d..%d: the target's batch at %d, %s, ends at %d", a[i].BaseOffset(), stop, b[j].BaseOffset(), b[j].Codec(), b[j].NextOffset())
			}
			gathered++
		}
		i = end
	}
	if j != len(b) {
		return 0, 0, fmt.Errorf("%d batches on the target after the source's last", len(b)-j)
	}
	return forwarded, gathered, nil
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
