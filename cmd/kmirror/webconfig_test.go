package main_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/kmirror/kmirror/internal/pki"
	"github.com/kmirror/kmirror/internal/testbed"
)

// TestRunSecuresHTTP: with --web.config.file asking for TLS and basic auth,
// run refuses /metrics without the credentials and serves it with them;
// --probes serves the probes alone, plainly; neither the password nor its
// hash is ever logged.
func TestRunSecuresHTTP(t *testing.T) {
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ca, err := pki.NewCA("web-ca")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue("kmirror", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	write("tls.crt", string(server.CertPEM))
	write("tls.key", string(server.KeyPEM))
	const user, password = "prometheus", "s3cret-Scrape-pw"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// Relative file names are read next to the web configuration.
	webConfig := write("web-config.yml", fmt.Sprintf(`tls_server_config:
  cert_file: tls.crt
  key_file: tls.key
basic_auth_users:
  %s: %s
`, user, hash))
	config := write("kmirror.yaml", testbed.NativeConfig(src, tgt, `    topicsPattern: "app1-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
`))

	run := start(t, "run", "-c", config, "--http", "127.0.0.1:0", "--web-config-file", webConfig, "--probes", "127.0.0.1:0", "--log-level", "debug")
	run.waitFor(t, "running; stop with SIGINT or SIGTERM", 30*time.Second)
	addrs := map[string]string{}
	for _, m := range regexp.MustCompile(`"serving HTTP" addr=(\S+) endpoints="([^"]*)"`).FindAllStringSubmatch(run.output(), -1) {
		addrs[m[2]] = m[1]
	}
	addr, probes := addrs["/ /metrics /healthz /readyz /api/v1/status /api/v1/history"], addrs["/healthz /readyz"]
	if addr == "" || probes == "" {
		t.Fatalf("the two HTTP addresses are not logged:\n%s", run.output())
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(url, user, pw string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	for _, tc := range []struct {
		name, url, user, pw string
		want                int
	}{
		{"no credentials", "https://" + addr + "/metrics", "", "", http.StatusUnauthorized},
		{"wrong password", "https://" + addr + "/metrics", user, "wrong", http.StatusUnauthorized},
		{"unknown user", "https://" + addr + "/metrics", "someone", password, http.StatusUnauthorized},
		{"status API without credentials", "https://" + addr + "/api/v1/status", "", "", http.StatusUnauthorized},
		{"probes on the main address without credentials", "https://" + addr + "/healthz", "", "", http.StatusUnauthorized},
		{"plain HTTP on the TLS address", "http://" + addr + "/metrics", user, password, http.StatusBadRequest},
		{"credentials", "https://" + addr + "/metrics", user, password, http.StatusOK},
		{"liveness on the probes address", "http://" + probes + "/healthz", "", "", http.StatusOK},
		{"no metrics on the probes address", "http://" + probes + "/metrics", "", "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(tc.url, tc.user, tc.pw)
			if code != tc.want {
				t.Fatalf("%s: %d, want %d: %.200s", tc.url, code, tc.want, body)
			}
			if code == http.StatusOK && strings.HasSuffix(tc.url, "/metrics") && !strings.Contains(body, "kmirror_build_info") {
				t.Errorf("/metrics with credentials serves no kmirror metrics: %.300s", body)
			}
		})
	}
	testbed.WaitFor(t, 30*time.Second, "/readyz on the probes address", func() bool {
		code, _ := get("http://"+probes+"/readyz", "", "")
		return code == http.StatusOK
	})

	if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := run.exit(t, 45*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, run.output())
	}
	for _, secret := range []string{password, string(hash), string(server.KeyPEM[30:60])} {
		if strings.Contains(run.output(), secret) {
			t.Errorf("the log holds a secret of the web configuration (%.8s…)", secret)
		}
	}
}

// TestRunRefusesABadWebConfig: a web configuration that does not load ends
// run at once with one message naming the flag and the file, and no value
// from it (here a plain password where a bcrypt hash belongs).
func TestRunRefusesABadWebConfig(t *testing.T) {
	dir := t.TempDir()
	webConfig := filepath.Join(dir, "web-config.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  prometheus: plain-Secret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	config := filepath.Join(dir, "kmirror.yaml")
	if err := os.WriteFile(config, []byte(testbed.NativeConfig(src, tgt, "    topicsPattern: \"app1-.*\"\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	run := start(t, "run", "-c", config, "--http", "127.0.0.1:0", "--web.config.file", webConfig)
	if code := run.exit(t, 30*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, run.output())
	}
	out := run.output()
	if !strings.Contains(out, "--web-config-file") || !strings.Contains(out, webConfig) || !strings.Contains(out, "basic_auth_users") {
		t.Errorf("the error does not name the flag, the file and the key:\n%s", out)
	}
	for _, leak := range []string{"plain-Secret-pw", "'p'", "started with"} {
		if strings.Contains(out, leak) {
			t.Errorf("the error shows the password (%q):\n%s", leak, out)
		}
	}
}
