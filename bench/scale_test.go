package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/config"
)

// TestScaleSmoke runs the scale mode on a tiny shape: it checks that every
// figure of the row was measured and is sane, never how fast anything
// was.
func TestScaleSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kmirror and runs clusters as processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := options{
		scale:       true,
		partitions:  intList{v: []int{20}},
		topics:      intList{v: []int{3}},
		groups:      intList{v: []int{5}},
		idle:        time.Second,
		syncSamples: 3,
		runs:        1,
		logf:        t.Logf,
	}
	rep, err := scaleRun(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rep.rows))
	}
	r := rep.rows[0]
	if r.scalePoint != (scalePoint{20, 3, 5}) {
		t.Errorf("point %s, want 20 partitions, 3 topics, 5 groups", r.scalePoint)
	}
	if r.synced <= 0 || r.idleCores < 0 || r.mem.rss <= 0 || r.mem.peak < r.mem.rss {
		t.Errorf("synced %s, idle %v cores, memory %+v", r.synced, r.idleCores, r.mem)
	}
	if r.status <= 0 || r.ready <= 0 || r.api <= 0 {
		t.Errorf("status %s, migrate ready %s, /api/v1/status %s", r.status, r.ready, r.api)
	}
	if r.apiPlain <= 0 || r.apiGzip <= 0 {
		t.Errorf("/api/v1/status: %d B plain, %d B with gzip asked", r.apiPlain, r.apiGzip)
	}
	if len(r.sync) != o.syncSamples || r.never != 0 {
		t.Errorf("sync: %d delays, %d never, want %d delays", len(r.sync), r.never, o.syncSamples)
	}
	for _, d := range r.sync {
		if d <= 0 || d > syncNever {
			t.Errorf("sync delay %s", d)
		}
	}
	md := rep.markdown()
	if !strings.Contains(md, "| 20 | 3 | 5 |") {
		t.Errorf("markdown lacks the row:\n%s", md)
	}
	t.Log("\n" + rep.text())
}

// The groups' partitions are spread over every topic, four distinct ones
// each while there are as many.
func TestScaleShape(t *testing.T) {
	tests := []struct {
		pt         scalePoint
		topicsUsed int // by the groups
	}{
		{scalePoint{20, 3, 5}, 3},
		{scalePoint{10, 10, 10}, 10},
		{scalePoint{2, 1, 3}, 1},
		{scalePoint{1000, 1000, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.pt.String(), func(t *testing.T) {
			s := newScaleShape(tt.pt)
			total := 0
			for _, n := range s.topics {
				total += n
				if n < tt.pt.partitions/tt.pt.topics || n > tt.pt.partitions/tt.pt.topics+1 {
					t.Errorf("a topic of %d partitions", n)
				}
			}
			if len(s.topics) != tt.pt.topics || total != tt.pt.partitions {
				t.Errorf("%d topics, %d partitions", len(s.topics), total)
			}
			if len(s.groups) != tt.pt.groups {
				t.Errorf("%d groups", len(s.groups))
			}
			used := map[string]bool{}
			for g, tps := range s.groups {
				seen := map[topicPartition]bool{}
				for _, tp := range tps {
					used[tp.topic] = true
					seen[tp] = true
					if int(tp.partition) >= s.topics[tp.topic] {
						t.Errorf("%s: %v does not exist", g, tp)
					}
				}
				if want := min(groupPartitions, tt.pt.partitions); len(seen) != want {
					t.Errorf("%s: %d distinct partitions, want %d", g, len(seen), want)
				}
			}
			if len(used) != tt.topicsUsed {
				t.Errorf("groups on %d topics, want %d", len(used), tt.topicsUsed)
			}
		})
	}
}

// The configurations the harness writes load strictly: every key is one
// kmirror knows, with a value it accepts.
func TestConfigsLoad(t *testing.T) {
	tests := []struct {
		name  string
		write func(path string) error
	}{
		{"kfake mode", func(path string) error {
			return writeConfig(path, "127.0.0.1:9092", "127.0.0.1:9093", topicMirrored, options{tasks: 2, set: []string{"producer.linger.ms=1"}}, "")
		}},
		{"scale mode", func(path string) error {
			return writeScaleConfig(path, "127.0.0.1:9092", "127.0.0.1:9093", options{set: []string{"consumer.fetch.max.bytes=1048576"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kmirror.yaml")
			if err := tt.write(path); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load(path, config.Options{Strict: true}); err != nil {
				b, _ := os.ReadFile(path)
				t.Fatalf("%v\n%s", err, b)
			}
		})
	}
}
