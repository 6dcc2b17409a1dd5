// Package browsertest drives Debian's headless Chromium for tests of the
// status page: load a URL and return the DOM the page built, or save a
// screenshot of it. It runs the page's own JavaScript against a real
// server, so any test can point it at a handler whose report comes from
// wherever it likes (a fake, or a running mirror).
//
// A test elsewhere reuses it with its own report source:
//
//	url := browsertest.StartServer(t, httpapi.Handler(httpapi.Options{Status: a.Status}))
//	page := browsertest.Read(t, browsertest.LoadPage(t, url))
//	// page.Flows[0].Topics, page.Flows[0].Groups … as the page shows them
//	browsertest.Screenshot(t, url, filepath.Join(browsertest.ArtifactDir(t), "mirror.png"))
//
// Chromium is driven through its command line only (--dump-dom,
// --screenshot, --virtual-time-budget): no browser-automation dependency.
package browsertest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/httpapi"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// Budget is the virtual time a page runs before its DOM is taken: long
// enough for the page's first polls of the status API (one every 2 s).
// Chromium pauses virtual time while requests are pending, so a slow
// machine does not cut a poll short.
const Budget = 5 * time.Second

// runTimeout bounds one Chromium run in wall-clock time.
const runTimeout = 90 * time.Second

// Chromium returns the browser's path. Without it the test fails when
// CI=true (CI installs it) and is skipped otherwise.
func Chromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required in CI: %v", err)
		}
		t.Skipf("chromium not installed (apt-get install chromium): %v", err)
	}
	return ChromiumPath
}

// ArtifactDir is where tests leave files worth looking at: the directory
// $KMIRROR_ARTIFACTS when set (created if missing), else a temporary one.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KMIRROR_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact directory: %v", err)
	}
	return dir
}

// StartServer serves h on 127.0.0.1 at a free port until the test ends,
// through httpapi.ServeListener as kmirror run does, and returns the base
// URL ("http://127.0.0.1:PORT/").
func StartServer(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := httpapi.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpapi.ServeListener(ctx, ln, h, "", nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("http server: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// LoadPage opens url in headless Chromium, lets the page run for Budget
// of virtual time, and returns the serialized DOM.
func LoadPage(t testing.TB, url string) string {
	t.Helper()
	return LoadPageFor(t, url, Budget)
}

// LoadPageFor is LoadPage with another virtual-time budget.
func LoadPageFor(t testing.TB, url string, budget time.Duration) string {
	t.Helper()
	out := run(t, "--dump-dom", budgetFlag(budget), url)
	if !strings.Contains(out, "<html") {
		t.Fatalf("chromium returned no DOM for %s:\n%s", url, out)
	}
	return out
}

// Screenshot saves a 1280×900 PNG of url, after Budget of virtual time,
// to path.
func Screenshot(t testing.TB, url, path string) {
	t.Helper()
	screenshot(t, path, budgetFlag(Budget), url)
}

// LoadPageAndScreenshot is LoadPage that also saves a screenshot of the
// page it returns, taken by the same browser at the same moment.
func LoadPageAndScreenshot(t testing.TB, url, path string) string {
	t.Helper()
	out := screenshot(t, path, "--dump-dom", budgetFlag(Budget), url)
	if !strings.Contains(out, "<html") {
		t.Fatalf("chromium returned no DOM for %s:\n%s", url, out)
	}
	return out
}

func screenshot(t testing.TB, path string, args ...string) string {
	t.Helper()
	_ = os.Remove(path) // so that a stale file cannot pass for a new one
	out := run(t, append([]string{"--screenshot=" + path, "--window-size=1280,900", "--hide-scrollbars"}, args...)...)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if info.Size() == 0 {
		t.Fatalf("screenshot %s is empty", path)
	}
	return out
}

func budgetFlag(d time.Duration) string {
	return "--virtual-time-budget=" + strconv.FormatInt(d.Milliseconds(), 10)
}

// run runs headless Chromium with a fresh profile and returns its
// standard output.
func run(t testing.TB, args ...string) string {
	t.Helper()
	bin := Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	flags := []string{
		"--headless",
		"--no-sandbox", // tests run as root in containers
		"--disable-gpu",
		"--disable-quic",
		"--disable-dev-shm-usage",
		"--no-first-run",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-extensions",
		"--disable-breakpad",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(flags, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Chromium's helper processes inherit its pipes; do not wait for them
	// long once the browser itself has exited.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("chromium did not finish within %s: %v\n%s", runTimeout, err, stderr.String())
		}
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
