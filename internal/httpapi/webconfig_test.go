package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/pki"
)

// TestClientCertificates: a web configuration with client_auth_type
// RequireAndVerifyClientCert serves only clients whose certificate its
// client_ca_file signed.
func TestClientCertificates(t *testing.T) {
	ca, err := pki.NewCA("web-ca")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue("kmirror", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	scraper, err := ca.Issue("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("other-ca")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.Issue("stranger")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"tls.crt": server.CertPEM, "tls.key": server.KeyPEM, "ca.crt": ca.PEM,
		"web.yml": []byte("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	webConfig := filepath.Join(dir, "web.yml")
	if err := ValidateWebConfig(webConfig); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, Handler(Options{}), webConfig, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := waitDone(t, done, 10*time.Second); err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, tc := range []struct {
		name string
		cert []tls.Certificate
		ok   bool
	}{
		{"no client certificate", nil, false},
		{"a certificate of another CA", []tls.Certificate{stranger.TLS}, false},
		{"a certificate of the client CA", []tls.Certificate{scraper.TLS}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: tc.cert}}}
			resp, err := client.Get("https://" + ln.Addr().String() + "/healthz")
			if err == nil {
				_ = resp.Body.Close()
			}
			if got := err == nil && resp.StatusCode == http.StatusOK; got != tc.ok {
				t.Fatalf("served = %v (err %v), want %v", got, err, tc.ok)
			}
		})
	}
}

// TestValidateWebConfig: every mistake is one error naming the flag and
// the file, and no value of the file.
func TestValidateWebConfig(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"plain password", "basic_auth_users:\n  prometheus: Hunter2-pw\n", "basic_auth_users: every password must be a bcrypt hash"},
		{"wrong shape", "basic_auth_users: Hunter2-pw\n", "cannot unmarshal"},
		{"unknown key", "tls_server_config:\n  cert_fil: Hunter2-pw\n", "cert_fil"},
		{"missing key file", "tls_server_config:\n  cert_file: tls.crt\n", "missing one of key or key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "web.yml")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			err := ValidateWebConfig(path)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "--web-config-file") || !strings.Contains(msg, path) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name the flag, the file and %q", msg, tc.want)
			}
			if strings.Contains(msg, "Hunter2") || strings.Contains(msg, "'H'") {
				t.Errorf("error %q shows a value of the file", msg)
			}
		})
	}
	if err := ValidateWebConfig(filepath.Join(t.TempDir(), "missing.yml")); err == nil || !strings.Contains(err.Error(), "missing.yml") {
		t.Errorf("a missing file: %v", err)
	}
}

// TestWebConfigChangedBadly: the web configuration is read again for each
// request; one that no longer parses answers 500, and its values stay out
// of the log.
func TestWebConfigChangedBadly(t *testing.T) {
	dir := t.TempDir()
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte("http_server_config:\n  http2: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, Handler(Options{}), webConfig, log) }()
	t.Cleanup(func() {
		cancel()
		if err := waitDone(t, done, 10*time.Second); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	get := func() int {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("healthz = %d", code)
	}
	if err := os.WriteFile(webConfig, []byte("basic_auth_users: Hunter2-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := get(); code != http.StatusInternalServerError {
		t.Fatalf("healthz with a broken web configuration = %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "cannot unmarshal") || strings.Contains(logs.String(), "Hunter2") {
		t.Errorf("the log does not report the broken configuration without its values:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
