package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kmirror/kmirror/bench/internal/workload"
	"github.com/kmirror/kmirror/internal/testbed"
)

// The load is written to the source with the codec -source-compression
// names, whatever the mirrors' producers use; without it, with theirs.
func TestSourceCompression(t *testing.T) {
	for _, c := range []struct {
		flag string
		want uint8 // the batches' compression attribute
	}{{"", 1}, {"zstd", 4}, {"none", 0}} {
		t.Run("codec "+c.flag, func(t *testing.T) {
			src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
			if err := src.CreateTopic("load", 1, nil); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(t.TempDir(), "kmirror.yaml")
			mirror := `    topicsPattern: "load"
    sourceConnector:
      config:
        producer.compression.type: gzip
`
			if err := os.WriteFile(cfg, []byte(testbed.NativeConfig(src, tgt, mirror)), 0o600); err != nil {
				t.Fatal(err)
			}
			spec := workload.Spec{Records: 200, Size: 100, Partitions: 1, Keys: workload.KeysNone}
			res, err := run(t.Context(), "produce", cfg, "", "load", true, c.flag, spec, 1, 0, 0)
			if err != nil || res.Records != 200 {
				t.Fatalf("produce: %d records, %v", res.Records, err)
			}
			recs := src.Read(t, "load", 0)
			if len(recs) != 200 {
				t.Fatalf("the source holds %d records, want 200", len(recs))
			}
			// franz-go writes a batch uncompressed when compressing does
			// not shrink it (a lone small record): every batch is in the
			// codec or uncompressed, and some are in the codec.
			inCodec := 0
			for _, r := range recs {
				switch got := r.Attrs.CompressionType(); {
				case got == c.want:
					inCodec++
				case got != 0:
					t.Fatalf("offset %d: compression %d, want %d", r.Offset, got, c.want)
				}
			}
			if inCodec == 0 {
				t.Fatalf("no record written with compression %d", c.want)
			}
		})
	}
}
