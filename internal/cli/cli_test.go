package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/config"
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

// Wrong flags and arguments exit 2 with one line on stderr naming the
// mistake; a command that fails exits 1.
func TestExitCodes(t *testing.T) {
	const quickstart, seedLocal = "../../examples/quickstart.yaml", "../../examples/seed/kmm2-local.yaml"
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // the whole of stderr after "kmirror: "; "" for exit 1
	}{
		{"unknown flag", []string{"validate", "-c", quickstart, "--bogus"}, ExitUsage, "unknown flag: --bogus"},
		{"unknown shorthand", []string{"validate", "-x"}, ExitUsage, "unknown shorthand flag: 'x' in -x"},
		{"unknown command", []string{"bogus"}, ExitUsage, `unknown command "bogus" for "kmirror"`},
		{"misspelt command", []string{"valdate", "-c", quickstart}, ExitUsage, `unknown command "valdate" for "kmirror"; did you mean validate?`},
		{"unknown subcommand", []string{"migrate", "bogus"}, ExitUsage, `unknown command "bogus" for "kmirror migrate"`},
		{"missing required flag", []string{"validate"}, ExitUsage, `required flag(s) "config" not set`},
		{"missing required flag of a subcommand", []string{"migrate", "ready", "-c", quickstart}, ExitUsage, `required flag(s) "group" not set`},
		{"flag without its value", []string{"validate", "-c"}, ExitUsage, "flag needs an argument: 'c' in -c"},
		{"not an address", []string{"run", "-c", quickstart, "--http", "nonsense"}, ExitUsage, `--http: listen address "nonsense": address nonsense: missing port in address: give HOST:PORT or :PORT`},
		{"not a port", []string{"run", "-c", quickstart, "--probes", "127.0.0.1:abc"}, ExitUsage, `--probes: listen address "127.0.0.1:abc": port "abc" is not a number from 0 to 65535: give HOST:PORT or :PORT`},
		{"bad flag value", []string{"migrate", "drain", "-c", quickstart, "--topic", "t", "--timeout", "abc"}, ExitUsage,
			`invalid argument "abc" for "--timeout" flag: time: invalid duration "abc"`},
		{"positional argument", []string{"validate", "-c", quickstart, "extra"}, ExitUsage, `unknown command "extra" for "kmirror validate"`},
		{"bad log level", []string{"run", "--log-level", "loud", "-c", quickstart}, ExitUsage, `--log-level "loud" is not debug, info, warn or error`},
		{"bad log level in plan", []string{"plan", "--log-level", "loud", "-c", quickstart}, ExitUsage, `--log-level "loud" is not debug, info, warn or error`},
		{"failure", []string{"validate", "-c", "does-not-exist.yaml"}, ExitFailure, ""},
		{"dev-cluster -c without --secrets-dir", []string{"dev-cluster", "-c", seedLocal}, ExitUsage,
			`if any flags in the group [config secrets-dir] are set they must all be set; missing [secrets-dir]`},
		{"dev-cluster -c with --listen", []string{"dev-cluster", "-c", seedLocal, "--secrets-dir", "d", "--listen", "127.0.0.1:0"}, ExitUsage,
			`if any flags in the group [config listen] are set none of the others can be; [config listen] were all set`},
		{"dev-cluster --cluster without -c", []string{"dev-cluster", "--cluster", "a"}, ExitUsage, "--cluster picks clusters of the configuration: give -c FILE"},
		{"dev-cluster -c with a cluster it lacks", []string{"dev-cluster", "-c", seedLocal, "--secrets-dir", "d", "--cluster", "nope"}, ExitFailure, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := execute(t, context.Background(), tt.args...)
			if code != tt.code {
				t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", tt.args, code, tt.code, out, errOut)
			}
			if tt.code != ExitUsage {
				return
			}
			if want := "kmirror: " + tt.stderr + "\n"; errOut != want || out != "" {
				t.Errorf("%v:\nstderr %q\nwant   %q\nstdout %q", tt.args, errOut, want, out)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := execute(t, context.Background(), "version")
	if code != ExitOK || !strings.HasPrefix(out, "kmirror dev (commit unknown, go1.") {
		t.Errorf("exit %d, %q", code, out)
	}
	if code, flag, errOut := execute(t, context.Background(), "--version"); code != ExitOK || flag != out {
		t.Errorf("--version: exit %d, %q%s; want %q", code, flag, errOut, out)
	}
	code, js, _ := execute(t, context.Background(), "version", "--json")
	var v struct{ Version, Commit, Go, Platform string }
	if err := json.Unmarshal([]byte(js), &v); code != ExitOK || err != nil {
		t.Fatalf("version --json: exit %d, %v\n%s", code, err, js)
	}
	if want := fmt.Sprintf("kmirror %s (commit %s, %s %s)\n", v.Version, v.Commit, v.Go, v.Platform); want != out {
		t.Errorf("version --json says %+v; the line says %q", v, out)
	}
}

// A command interrupted (SIGINT, SIGTERM) while it connects exits 130,
// without a message: the interruption is the user's own.
func TestInterrupted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kmirror.yaml")
	// Nothing listens on port 1: the connection waits, or fails, until
	// the interruption.
	testbed.WriteFiles(t, dir, map[string][]byte{"kmirror.yaml": []byte(testbed.NativeConfigAt("127.0.0.1:1", "127.0.0.1:1", `    topicsPattern: "app1-.*"
`))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{{"plan", "-c", path}, {"status", "-c", path}, {"migrate", "drain", "-c", path, "--topic", "app1-t1"}} {
		if code, out, errOut := execute(t, ctx, args...); code != ExitInterrupted || errOut != "" {
			t.Errorf("%v interrupted: exit %d, want %d and nothing on stderr\n%s%s", args, code, ExitInterrupted, out, errOut)
		}
	}
}

// Failover needs the way back under the same names, and names the
// cluster: a configuration that copies one way gets one clear error,
// before anything connects.
func TestFailoverNeedsTheWayBack(t *testing.T) {
	const quickstart = "../../examples/quickstart.yaml"
	tests := []struct {
		to, want string
	}{
		{"target", `no flow copies into target and back under the same names`},
		{"nowhere", `--to "nowhere" is not a cluster of the configuration`},
	}
	for _, tt := range tests {
		code, out, errOut := execute(t, context.Background(), "migrate", "failover", "-c", quickstart, "--to", tt.to, "--topic", "orders")
		if code != ExitFailure || !strings.Contains(errOut, tt.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("--to %s: exit %d, stderr %q, want 1 and one line with %q\nstdout: %s", tt.to, code, errOut, tt.want, out)
		}
	}
}

// $KMIRROR_CONFIG and $KMIRROR_SECRETS_DIR stand for -c and --secrets-dir,
// as the generated Deployment sets them for `kubectl exec … kmirror …`.
func TestConfigFromEnvironment(t *testing.T) {
	if code, _, errOut := execute(t, context.Background(), "validate"); code != ExitUsage || !strings.Contains(errOut, `required flag(s) "config" not set`) {
		t.Errorf("neither -c nor $%s: exit %d\n%s", config.EnvFile, code, errOut)
	}
	t.Setenv(config.EnvFile, seedResource)
	if code, out, errOut := execute(t, context.Background(), "validate"); code != ExitOK || !strings.Contains(out, "5 secret keys not checked") {
		t.Errorf("$%s: exit %d\n%s%s", config.EnvFile, code, out, errOut)
	}
	// The secrets are read from the directory it names: an empty one
	// lacks them.
	t.Setenv(config.EnvSecretsDir, t.TempDir())
	if code, out, errOut := execute(t, context.Background(), "validate"); code != ExitFailure || !strings.Contains(out+errOut, `secret "my-source-cluster-cluster-ca-cert" key "ca.crt"`) {
		t.Errorf("$%s: exit %d\n%s%s", config.EnvSecretsDir, code, out, errOut)
	}
}

// The demo's default status page port taken, it serves the page on
// another and says so; an address the user chose and cannot have is an
// error that names the flag.
func TestDemoPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if code, out, errOut := execute(t, ctx, "demo", "--http", ln.Addr().String(), "--records", "10"); code != ExitFailure || !strings.Contains(errOut, "choose another address with --http ADDR") {
		t.Errorf("--http on a taken address: exit %d\n%s%s", code, out, errOut)
	}
	// The default port: taken here, unless something else holds it
	// already, which takes it as well.
	if def, err := net.Listen("tcp", "127.0.0.1:9721"); err == nil {
		defer def.Close()
	}
	code, out, errOut := execute(t, ctx, "demo", "--records", "10")
	if code != ExitOK || !strings.Contains(out, "127.0.0.1:9721 is taken: the status page goes on another port (--http ADDR chooses one)") ||
		!strings.Contains(out, "status page: http://127.0.0.1:") || strings.Contains(out, "status page: http://127.0.0.1:9721/") {
		t.Errorf("the default port taken: exit %d\n%s%s", code, out, errOut)
	}
}

// seedSecretKeys are the secret keys the seed's resource names.
var seedSecretKeys = []string{"mm2-source-cluster/tls.crt", "mm2-source-cluster/tls.key", "mm2-target-cluster/password",
	"my-source-cluster-cluster-ca-cert/ca.crt", "my-target-cluster-cluster-ca-cert/ca.crt"}

// validate --json: the verdict and every diagnostic, with key and line,
// and the secret keys the configuration names, read or not.
func TestValidateJSON(t *testing.T) {
	var v validation
	code, out, errOut := execute(t, context.Background(), "validate", "-c", seedResource, "--json")
	if err := json.Unmarshal([]byte(out), &v); code != ExitOK || err != nil || !v.Valid || v.Format != "Strimzi KafkaMirrorMaker2" ||
		len(v.Flows) != 1 || len(v.Clusters) != 2 || len(v.NotChecked) != 5 || len(v.Errors) != 0 || !slices.Equal(v.Secrets, seedSecretKeys) ||
		!slices.ContainsFunc(v.Warnings, func(d diagnostic) bool {
			return strings.Contains(d.Message, "did you mean producer.acks?") && d.Line > 0
		}) {
		t.Errorf("the seed's resource: exit %d, %v, %+v\n%s%s", code, err, v, out, errOut)
	}
	// Read from --secrets-dir, the secrets are checked and still listed.
	v = validation{}
	secrets, _ := testbed.SeedSecrets(t)
	code, out, errOut = execute(t, context.Background(), "validate", "-c", seedResource, "--json", "--secrets-dir", secrets)
	if err := json.Unmarshal([]byte(out), &v); code != ExitOK || err != nil || len(v.NotChecked) != 0 || !slices.Equal(v.Secrets, seedSecretKeys) {
		t.Errorf("the seed's resource with its secrets: exit %d, %v, %+v\n%s%s", code, err, v, out, errOut)
	}
	dir := t.TempDir()
	testbed.WriteFiles(t, dir, map[string][]byte{"bad.yaml": []byte("clusters:\n  - alias: a\nmirrors:\n  - sourceCluster: a\n    targetCluster: b\n    sourceConnector:\n      tasksMax: abc\n")})
	v = validation{}
	code, out, errOut = execute(t, context.Background(), "validate", "-c", filepath.Join(dir, "bad.yaml"), "--json")
	if err := json.Unmarshal([]byte(out), &v); code != ExitFailure || err != nil || v.Valid || len(v.Errors) == 0 ||
		!slices.ContainsFunc(v.Errors, func(d diagnostic) bool { return strings.Contains(d.Key, "tasksMax") && d.Line == 7 }) {
		t.Errorf("an invalid file: exit %d, %v, %+v\n%s%s", code, err, v, out, errOut)
	}
}
