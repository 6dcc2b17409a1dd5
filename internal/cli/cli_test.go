package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmirror/kmirror/internal/testbed"
)

var update = flag.Bool("update", false, "rewrite golden files")

// execute runs the command line and returns its exit code and output.
func execute(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func TestValidate(t *testing.T) {
	secrets, _ := testbed.SeedSecrets(t)
	props := t.TempDir()
	data, err := os.ReadFile("../config/testdata/invalid/two-targets.properties")
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(data), "a->c.enabled = true\n", "", 1)
	testbed.WriteFiles(t, props, map[string][]byte{"mm2.properties": []byte(fixed)})
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"validate-seed", []string{"validate", "-c", "../config/testdata/seed-kmm2.yaml", "--secrets-dir", secrets}, ExitOK},
		{"validate-seed-strict", []string{"validate", "-c", "../config/testdata/seed-kmm2.yaml", "--secrets-dir", secrets, "--strict"}, ExitFailure},
		{"validate-no-secrets-dir", []string{"validate", "-c", "../config/testdata/seed-kmm2.yaml"}, ExitFailure},
		{"validate-bad-regex", []string{"validate", "-c", "../config/testdata/invalid/bad-regex.yaml"}, ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := execute(t, context.Background(), tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			out = strings.ReplaceAll(out, secrets, "SECRETS")
			golden(t, tt.name, out)
			if strings.Contains(out+errOut, testbed.SeedPassword) {
				t.Error("the password was printed")
			}
		})
	}
	code, out, _ := execute(t, context.Background(), "validate", "-c", filepath.Join(props, "mm2.properties"))
	if code != ExitOK || !strings.Contains(out, "valid: 1 flow, 3 clusters, 0 warnings") {
		t.Errorf("properties: exit %d\n%s", code, out)
	}
}

func TestExamplesAreValid(t *testing.T) {
	for _, path := range []string{"../../examples/quickstart.yaml", "../../examples/mm2.properties"} {
		code, out, errOut := execute(t, context.Background(), "validate", "-c", path)
		if code != ExitOK || !strings.Contains(out, "valid: 1 flow, 2 clusters, 0 warnings") {
			t.Errorf("%s: exit %d\n%s%s", path, code, out, errOut)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"validate"}, {"validate", "-c"}, {"run", "--log-level", "loud", "-c", "x"}} {
		code, _, errOut := execute(t, context.Background(), args...)
		if code != ExitUsage || !strings.HasPrefix(errOut, "kmirror: ") || strings.Contains(errOut, "goroutine") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := execute(t, context.Background(), "version")
	if code != ExitOK || !strings.HasPrefix(out, "kmirror dev (commit unknown, go1.") {
		t.Errorf("exit %d, %q", code, out)
	}
}
