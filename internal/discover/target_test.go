package discover

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmirror/kmirror/internal/testbed"
)

// A missing target topic is created and a smaller one grown when
// topic.creation.enable allows; otherwise both are blocked, with what to
// do, and nothing is written.
func TestSyncTargetTopics(t *testing.T) {
	for _, tc := range []struct {
		creation    string
		wantReady   []string
		wantBlocked []string
		wantParts   map[string]int
	}{
		{"true", []string{"app-a", "app-b"}, nil, map[string]int{"app-a": 2, "app-b": 3}},
		{"false", nil, []string{
			`app-a: target topic "app-a" does not exist; topic.creation.enable is false, so kmirror does not create it (create it with 2 partitions)`,
			`app-b: target topic "app-b" has 1 partitions, the source 3; topic.creation.enable is false, so kmirror does not add them`,
		}, map[string]int{"app-b": 1}},
	} {
		t.Run("creation "+tc.creation, func(t *testing.T) {
			ctx := t.Context()
			src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
			srcCl := src.Client(t)
			tgtCl := tgt.Client(t)
			srcAdm, tgtAdm := kadm.NewClient(srcCl), kadm.NewClient(tgtCl)
			for name, parts := range map[string]int32{"app-a": 2, "app-b": 3} {
				if _, err := srcAdm.CreateTopic(ctx, parts, -1, nil, name); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tgtAdm.CreateTopic(ctx, 1, -1, nil, "app-b"); err != nil {
				t.Fatal(err)
			}
			f := testbed.Config(t, src, tgt, `    topicsPattern: "app.*"
    sourceConnector:
      config:
        replication.policy.class: identity
        topic.creation.enable: `+tc.creation+"\n").Flows[0]
			sel, err := Topics(ctx, srcCl, f)
			if err != nil {
				t.Fatal(err)
			}
			ready, blocked, err := SyncTargetTopics(ctx, srcAdm, tgtCl, f, sel.Topics)
			if err != nil {
				t.Fatal(err)
			}
			var gotReady, gotBlocked []string
			for _, r := range ready {
				gotReady = append(gotReady, r.Target)
			}
			for _, b := range blocked {
				gotBlocked = append(gotBlocked, fmt.Sprintf("%s: %s", b.Topic, b.Reason))
			}
			slices.Sort(gotReady)
			slices.Sort(gotBlocked)
			if !slices.Equal(gotReady, tc.wantReady) || !slices.Equal(gotBlocked, tc.wantBlocked) {
				t.Errorf("ready %q, blocked %q; want %q, %q", gotReady, gotBlocked, tc.wantReady, tc.wantBlocked)
			}
			listed, err := tgtAdm.ListTopics(ctx, "app-a", "app-b")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for name, d := range listed {
				if d.Err == nil {
					got[name] = len(d.Partitions)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantParts) {
				t.Errorf("target partitions %v, want %v", got, tc.wantParts)
			}
		})
	}
}
