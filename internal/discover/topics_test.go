package discover

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

func TestSelectTopics(t *testing.T) {
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "k.yaml"), []byte(`connectCluster: target
clusters:
  - {alias: source, bootstrapServers: "a:1"}
  - {alias: target, bootstrapServers: "b:1"}
mirrors:
  - sourceCluster: source
    targetCluster: target
    topicsPattern: ".*"
    topicsExcludePattern: ".*-retry"
`), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var details []cluster.TopicMeta
	for _, name := range []string{"__consumer_offsets", "heartbeats", "kmirror-progress.source.internal", "mm2-offset-syncs.target.internal",
		"orders", "orders-retry", "source.orders", "target.orders"} {
		details = append(details, cluster.TopicMeta{Name: name, Partitions: 1})
	}
	sel := selectTopics(details, cfg.Flows[0])
	var selected []string
	for _, tp := range sel.Topics {
		selected = append(selected, tp.Source+"→"+tp.Target)
	}
	// source.orders is a replica from another flow into this source: MM2
	// copies it on (as source.source.orders); only replicas of the target
	// would loop.
	want := []string{"heartbeats→source.heartbeats", "orders→source.orders", "source.orders→source.source.orders"}
	if !slices.Equal(selected, want) {
		t.Errorf("selected %v, want %v", selected, want)
	}
	var skipped []string
	for _, s := range sel.Skipped {
		skipped = append(skipped, fmt.Sprintf("%s: %s", s.Topic, s.Reason))
	}
	slices.Sort(skipped)
	wantSkipped := []string{
		"__consumer_offsets: internal topic",
		"kmirror-progress.source.internal: internal topic",
		"mm2-offset-syncs.target.internal: internal topic",
		"orders-retry: excluded by '.*-retry'",
		"target.orders: a replica of target, the target (it would copy back)",
	}
	if !slices.Equal(skipped, wantSkipped) {
		t.Errorf("skipped %q, want %q", skipped, wantSkipped)
	}
}
