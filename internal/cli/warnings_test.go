package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmirror/kmirror/internal/testbed"
)

// plan and preflight run validate's offline checks and print their
// warnings first (the seed's producer.ack typo); preflight --json carries
// them, and --kafkauser prints them aside, on stderr, its YAML untouched.
func TestWarningsFirst(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	if err := src.CreateTopic("app1-t1", 1, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := testbed.NativeConfig(src, tgt, `    topicsPattern: "app1-t1"
    sourceConnector:
      config:
        replication.policy.class: identity
`)
	// The seed's typo, on the target cluster's config.
	cfg = strings.Replace(cfg, "  - alias: target\n", "  - alias: target\n    config:\n      producer.ack: 1\n", 1)
	testbed.WriteFiles(t, dir, map[string][]byte{"kmirror.yaml": []byte(cfg)})
	path := filepath.Join(dir, "kmirror.yaml")
	const warning = `"producer.ack" (line 7): unknown key, ignored; did you mean producer.acks?`

	tests := []struct {
		name   string
		args   []string
		stderr bool // the warning is on stderr
		json   bool
	}{
		{"plan", []string{"plan", "-c", path}, false, false},
		{"preflight", []string{"preflight", "-c", path}, false, false},
		{"preflight --json", []string{"preflight", "-c", path, "--json"}, false, true},
		{"preflight --kafkauser", []string{"preflight", "-c", path, "--kafkauser"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := execute(t, context.Background(), tt.args...)
			if code != ExitOK {
				t.Fatalf("exit %d:\n%s%s", code, out, errOut)
			}
			switch {
			case tt.json:
				var rep struct{ Warnings []string }
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if len(rep.Warnings) != 1 || !strings.HasSuffix(rep.Warnings[0], warning) {
					t.Errorf("warnings %q, want one ending %q", rep.Warnings, warning)
				}
			case tt.stderr:
				if !strings.Contains(errOut, warning) {
					t.Errorf("stderr has no %q:\n%s", warning, errOut)
				}
				if strings.Contains(out, "producer.ack") {
					t.Errorf("the warning is in the YAML:\n%s", out)
				}
			default:
				lines := strings.Split(out, "\n")
				if len(lines) < 3 || lines[0] != "warnings" || !strings.HasSuffix(lines[1], warning) || lines[2] != "" {
					t.Errorf("output does not begin with the warning %q:\n%s", warning, out)
				}
			}
		})
	}
}
