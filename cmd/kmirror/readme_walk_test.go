package main_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeWalk runs the README's first migration as a new user types it:
// the shell block under <!-- walk -->, with kmirror on the PATH and kcat,
// from a directory holding examples/quickstart.yaml. Only the addresses
// change (free ports for the two clusters and the page, so that the test
// runs next to others); every command must succeed, and the application's
// group must read each record once: 1–1000 on the source, 1001–1010 on the
// target.
func TestReadmeWalk(t *testing.T) {
	if why := kcatSkip(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	walk := walkBlock(t, string(readme))
	quickstart, err := os.ReadFile("../../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ports := freeTCPPorts(t, 2)
	local := strings.NewReplacer("127.0.0.1:9092", "127.0.0.1:"+ports[0], "127.0.0.1:9093", "127.0.0.1:"+ports[1])
	walk = strings.ReplaceAll(local.Replace(walk), "kmirror run ", "kmirror run --http 127.0.0.1:0 ")

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "examples"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "examples", "quickstart.yaml"), []byte(local.Replace(string(quickstart))), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", walk)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	// The walk's background processes share its process group: whatever
	// the walk leaves behind is killed with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("the README's walk failed: %v\n%s", err, out)
	}
	for _, want := range []string{"valid: 1 flow, 2 clusters, 0 warnings", "READY to switch", "drained:", "\nidentical\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the walk's output lacks %q:\n%s", want, out)
		}
	}
	checkRead(t, filepath.Join(dir, "on-source.txt"), 1, 1000)
	checkRead(t, filepath.Join(dir, "on-target.txt"), 1001, 1010)
}

// walkBlock is the shell block under the README's <!-- walk --> marker.
func walkBlock(t *testing.T, readme string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- walk -->\n```sh\n")
	if !ok {
		t.Fatal("README.md has no <!-- walk --> block")
	}
	block, _, ok := strings.Cut(rest, "\n```")
	if !ok {
		t.Fatal("README.md's walk block is not closed")
	}
	return block + "\n"
}

// checkRead says whether a consumer's output holds the records from..to,
// each once.
func checkRead(t *testing.T, path string, from, to int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for l := range strings.FieldsSeq(string(data)) {
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("%s: %q is no record of the walk", filepath.Base(path), l)
		}
		got = append(got, n)
	}
	slices.Sort(got)
	var want []int
	for n := from; n <= to; n++ {
		want = append(want, n)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: read %d records %v…, want %d–%d each once", filepath.Base(path), len(got), got[:min(len(got), 10)], from, to)
	}
}

func freeTCPPorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}
