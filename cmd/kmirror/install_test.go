package main_test

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// `go install ./cmd/kmirror` gives a kmirror whose `--version` and
// `version` print the same line, stamped from the build information the
// Go toolchain recorded: in this checkout as it is (which records no VCS
// information when it is a git worktree or GOFLAGS has -buildvcs=false),
// and in a fresh git repository of the same files, clean and then with an
// uncommitted change, where the version is the module's pseudo-version
// and the commit the repository's HEAD, each with +dirty for the change.
func TestGoInstallVersion(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("this checkout", func(t *testing.T) {
		bin := goInstall(t, root)
		line := versionOf(t, bin)
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		v, c := "dev", "unknown"
		if info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if rev := setting(info, "vcs.revision"); rev != "" {
			c = rev
			if setting(info, "vcs.modified") == "true" {
				c += "+dirty"
			}
		}
		if want := "kmirror " + v + " (commit " + c + ", " + runtime.Version(); !strings.HasPrefix(line, want) {
			t.Errorf("version %q, want %q… from the build information", line, want)
		}
	})
	t.Run("a git repository", func(t *testing.T) {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skip("no git: ", err)
		}
		dir := copyCheckout(t, root)
		git := func(args ...string) string {
			t.Helper()
			cmd := exec.Command("git", append([]string{"-c", "user.name=kmirror test", "-c", "user.email=test@kmirror.invalid"}, args...)...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return strings.TrimSpace(string(out))
		}
		git("init", "-q")
		git("add", "-A")
		git("commit", "-q", "--no-gpg-sign", "-m", "kmirror as tested")
		head := git("rev-parse", "HEAD")
		suffix := ""
		for _, change := range []string{"clean", "uncommitted change"} {
			if change != "clean" {
				if err := os.WriteFile(filepath.Join(dir, "CHANGED"), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				suffix = "+dirty"
			}
			line := versionOf(t, goInstall(t, dir, "GOFLAGS=-buildvcs=true"))
			// v0.0.0-yyyymmddhhmmss-abcdefabcdef: no tag, HEAD's time and
			// its first 12 hexadecimal digits.
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[0] != "kmirror" {
				t.Fatalf("%s: version %q", change, line)
			}
			v := fields[1]
			if !strings.HasPrefix(v, "v0.0.0-") || !strings.HasSuffix(v, "-"+head[:12]+suffix) {
				t.Errorf("%s: version %q, want v0.0.0-TIME-%s%s", change, v, head[:12], suffix)
			}
			if want := "(commit " + head + suffix + ", " + runtime.Version(); !strings.Contains(line, want) {
				t.Errorf("%s: %q, want %q", change, line, want)
			}
		}
	})
}

// goInstall runs `go install ./cmd/kmirror` in dir with an empty GOBIN of
// its own and env added, and returns the binary.
func goInstall(t *testing.T, dir string, env ...string) string {
	t.Helper()
	gobin := t.TempDir()
	cmd := exec.Command("go", "install", "./cmd/kmirror")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GOBIN=" + gobin, "GOWORK=off"}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/kmirror: %v\n%s", err, out)
	}
	bin := filepath.Join(gobin, "kmirror")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("go install left no kmirror in GOBIN: %v", err)
	}
	return bin
}

// versionOf runs `kmirror --version` and `kmirror version` and returns
// the line both print, failing the test when they differ.
func versionOf(t *testing.T, bin string) string {
	t.Helper()
	var lines []string
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("kmirror %s: %v\n%s", args[0], err, out)
		}
		lines = append(lines, strings.TrimSpace(string(out)))
	}
	if lines[0] != lines[1] || strings.Contains(lines[0], "\n") {
		t.Fatalf("kmirror --version printed %q, kmirror version %q: want one same line", lines[0], lines[1])
	}
	return lines[0]
}

func setting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// copyCheckout copies the files of the checkout at root that git tracks or
// would track (not those it ignores) into a new directory.
func copyCheckout(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("%s is no git checkout to copy: git ls-files: %v", root, err)
	}
	dir := t.TempDir()
	for name := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
