package main_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kmirror/kmirror/internal/testbed"
)

func trust(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate in " + caFile)
	}
	return &tls.Config{RootCAs: pool}
}

// binary is kmirror, built once for the tests that run it as a process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kmirror-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kmirror")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build kmirror: %v\n%s", err, out)
		os.Exit(1)
	}
	fmt.Printf("test bed: %s\n", bedName())
	code := m.Run()
	testbed.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a kmirror process whose output lines are collected.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
	err   error
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command(binary, args...))
}

// startCmd starts a command that runs kmirror (e.g. in a network
// namespace) and collects its output like start.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, done: make(chan struct{})}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	// done closes once every line the process wrote is in lines.
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		<-scanned
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitFor polls the output for a line containing s, until the deadline.
func (p *proc) waitFor(t *testing.T, s string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.Contains(l, s) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			t.Fatalf("process exited (%v) before printing %q:\n%s", p.err, s, p.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %q within %s:\n%s", s, within, p.output())
	return ""
}

// exit waits for the process to end and returns its exit code.
func (p *proc) exit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("still running after %s:\n%s", within, p.output())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

// devCluster starts a dev-cluster process and returns it with its brokers
// and CA file from the ready line.
func devCluster(t *testing.T, args ...string) (*proc, string, string) {
	t.Helper()
	p := start(t, append([]string{"dev-cluster", "--listen", "127.0.0.1:0"}, args...)...)
	line := p.waitFor(t, "dev-cluster ready:", 20*time.Second)
	var brokers, ca string
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "brokers="); ok {
			brokers = v
		}
		if v, ok := strings.CutPrefix(f, "ca="); ok {
			ca = v
		}
	}
	return p, brokers, ca
}

func TestRunCopiesAndStopsOnSIGTERM(t *testing.T) {
	_, source, _ := devCluster(t, "--cluster-id", "source-id", "--topic", "app1-orders:4")
	_, target, ca := devCluster(t, "--cluster-id", "target-id", "--tls", "--superuser", "SCRAM-SHA-512:mirror:right-pw")
	if ca == "" {
		t.Fatal("--tls printed no CA file")
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	config := func(passwordFile string) string {
		return fmt.Sprintf(`connectCluster: target
clusters:
  - alias: source
    bootstrapServers: %s
  - alias: target
    bootstrapServers: %s
    tls:
      caFile: %s
    authentication:
      type: scram-sha-512
      username: mirror
      passwordFile: %s
mirrors:
  - sourceCluster: source
    targetCluster: target
    topicsPattern: "app1-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
`, source, target, ca, passwordFile)
	}
	good := write("good.yaml", config(write("right", "right-pw\n")))
	bad := write("bad.yaml", config(write("wrong", "wrong-pw\n")))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(source), kgo.DefaultProduceTopic("app1-orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	for i := range 1000 {
		if err := producer.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	run := start(t, "run", "-c", good, "--http", "127.0.0.1:0")
	run.waitFor(t, "serving HTTP", 30*time.Second)
	m := regexp.MustCompile(`"serving HTTP" addr=(\S+)`).FindStringSubmatch(run.output())
	if m == nil {
		t.Fatalf("no HTTP address logged:\n%s", run.output())
	}
	base := "http://" + m[1]
	run.waitFor(t, "cluster_id=target-id", 30*time.Second)
	run.waitFor(t, "cluster_id=source-id", 30*time.Second)
	run.waitFor(t, "running; stop with SIGINT or SIGTERM", 30*time.Second)

	// The records reach the target, over TLS with SCRAM.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(target), kgo.ConsumeTopics("app1-orders"),
		kgo.DialTLSConfig(trust(t, ca)), kgo.SASL(scram.Auth{User: "mirror", Pass: "right-pw"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	seen := map[string]bool{}
	for len(seen) < 1000 {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of 1000 records on the target:\n%s", len(seen), run.output())
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Key)] = true })
	}

	// The HTTP API tells the same: ready, 1000 copied, no lag.
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	testbed.WaitFor(t, 30*time.Second, "/readyz, /api/v1/status and /metrics to show the copy", func() bool {
		code, _ := get("/readyz")
		_, js := get("/api/v1/status")
		var r struct {
			Flows []struct {
				Topics []struct {
					Copied, LagRecords int64
				}
			}
		}
		_, metrics := get("/metrics")
		return code == http.StatusOK && json.Unmarshal([]byte(js), &r) == nil && len(r.Flows) == 1 && len(r.Flows[0].Topics) == 1 &&
			r.Flows[0].Topics[0].Copied == 1000 && r.Flows[0].Topics[0].LagRecords == 0 &&
			strings.Contains(metrics, `kmirror_records_copied_total{source="source",target="target",topic="app1-orders"} 1000`)
	})
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Errorf("/: %d", code)
	}

	if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := run.exit(t, 45*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, run.output())
	}
	if out := run.output(); !strings.Contains(out, "stopped; progress persisted") {
		t.Errorf("no clean stop reported:\n%s", out)
	}

	failed := start(t, "run", "-c", bad, "--http", "")
	if code := failed.exit(t, 60*time.Second); code != 1 {
		t.Fatalf("wrong password: exit %d, want 1:\n%s", code, failed.output())
	}
	out := failed.output()
	if !strings.Contains(out, `cluster "target": authentication failed (SCRAM-SHA-512 as user "mirror")`) {
		t.Errorf("wrong password: output does not name the cluster and the cause:\n%s", out)
	}
	if strings.Contains(out, "wrong-pw") || strings.Contains(out, "goroutine") {
		t.Errorf("output shows the password or a stack trace:\n%s", out)
	}
}

func TestDevClusterKeepsDataAcrossRestarts(t *testing.T) {
	data := t.TempDir()
	args := []string{"--data-dir", data, "--topic", "orders:3"}
	first, brokers, _ := devCluster(t, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		r := &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("value-%d", i)), Partition: int32(i % 3)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := first.exit(t, 15*time.Second); code != 0 {
		t.Fatalf("dev-cluster exit %d:\n%s", code, first.output())
	}

	// The same ports may still be in TIME_WAIT; the data dir is what counts.
	_, brokers, _ = devCluster(t, args...)
	cl, err = kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]string{}
	for len(seen) < 30 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of 30 records back after the restart", len(seen))
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Key)] = string(r.Value) })
	}
	for i := range 30 {
		if seen[fmt.Sprint(i)] != fmt.Sprintf("value-%d", i) {
			t.Errorf("record %d = %q after restart", i, seen[fmt.Sprint(i)])
		}
	}
}
