package main_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// librdkafka clients (kcat, and confluent-kafka for Python) log in to a
// dev-cluster with each SASL mechanism, in plaintext and over TLS, write a
// record and read it back; a wrong password is refused.
func TestDevClusterSASLWithLibrdkafka(t *testing.T) {
	type client struct {
		name string
		skip func() string
		// cmd writes value to partition 0 of topic and reads it back.
		cmd func(ctx context.Context, brokers, topic, value string, conf []string) *exec.Cmd
	}
	clients := []client{
		{"kcat", kcatSkip, func(ctx context.Context, brokers, topic, value string, conf []string) *exec.Cmd {
			x := ""
			for _, kv := range conf {
				x += " -X " + shellQuote(kv)
			}
			// kcat -P sends what it read once its input ends; -C -e
			// then prints the partition from its start and exits at
			// its end.
			script := fmt.Sprintf("set -e\necho %s | kcat -P -b %s -t %s -p 0%s\nkcat -C -e -q -o beginning -b %s -t %s -p 0%s",
				shellQuote(value), brokers, topic, x, brokers, topic, x)
			return exec.CommandContext(ctx, "sh", "-c", script)
		}},
		{"confluent-kafka", func() string { return librdkafkaSkip("classic") }, func(ctx context.Context, brokers, topic, value string, conf []string) *exec.Cmd {
			return exec.CommandContext(ctx, librdkafkaPython(), append([]string{"testdata/sasl_client.py", brokers, topic, value}, conf...)...)
		}},
	}
	for _, tls := range []bool{false, true} {
		for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
			name := mech
			if tls {
				name += "/tls"
			}
			t.Run(name, func(t *testing.T) {
				args := []string{"--superuser", mech + ":admin:secret", "--topic", "greetings:1"}
				protocol := "SASL_PLAINTEXT"
				if tls {
					args = append(args, "--tls", "--ca-file", filepath.Join(t.TempDir(), "ca.crt"))
					protocol = "SASL_SSL"
				}
				_, brokers, ca := devCluster(t, args...)
				conf := func(password string) []string {
					c := []string{"security.protocol=" + protocol, "sasl.mechanisms=" + mech, "sasl.username=admin", "sasl.password=" + password}
					if tls {
						c = append(c, "ssl.ca.location="+ca)
					}
					return c
				}
				for _, cl := range clients {
					t.Run(cl.name, func(t *testing.T) {
						if why := cl.skip(); why != "" {
							t.Skip(why)
						}
						ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
						defer cancel()
						value := cl.name + "-" + name
						out, err := cl.cmd(ctx, brokers, "greetings", value, conf("secret")).CombinedOutput()
						if err != nil || !strings.Contains(string(out), value) {
							t.Fatalf("wrote and read back %q: %v\n%s", value, err, out)
						}
						out, err = cl.cmd(ctx, brokers, "greetings", "never", conf("wrong")).CombinedOutput()
						if err == nil || strings.Contains(string(out), "never") {
							t.Fatalf("a wrong password was accepted:\n%s", out)
						}
						// librdkafka names its connection state when the
						// broker hangs up: AUTH_REQ is SaslAuthenticate.
						if !strings.Contains(string(out), "AUTH_REQ") || strings.Contains(string(out), "not supported") {
							t.Fatalf("a wrong password failed for another reason than authentication:\n%s", out)
						}
					})
				}
			})
		}
	}
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
