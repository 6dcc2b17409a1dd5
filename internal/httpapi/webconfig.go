package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"
)

// ValidateWebConfig checks a web configuration file of the Prometheus
// exporter toolkit (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md):
// tls_server_config (a certificate and key, client_auth_type and
// client_ca_file for client certificates), basic_auth_users (bcrypt
// hashes), http_server_config. It reads the certificates it names, so a
// mistake ends the start instead of the first scrape.
//
// The error never holds a value from the file: the toolkit's parser quotes
// the values it cannot read, and a password written where a hash belongs
// would otherwise be printed.
func ValidateWebConfig(path string) error {
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("--web-config-file %q: %s", path, redactValues(err))
	}
	return nil
}

// quoted matches what YAML and bcrypt errors quote of the input.
var quoted = regexp.MustCompile("`[^`]*`|'[^']*'")

func redactValues(err error) string { return redact(err.Error()) }

func redact(msg string) string {
	if strings.Contains(msg, "bcrypt") {
		return "basic_auth_users: every password must be a bcrypt hash (htpasswd -nBC 10 USER, or Python's bcrypt.hashpw)"
	}
	return quoted.ReplaceAllString(msg, "…")
}

// redacting is the toolkit's logger: it reads the web configuration again
// for each request and logs what it cannot parse, values quoted.
type redacting struct{ slog.Handler }

func (h redacting) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			a = slog.String(a.Key, redact(a.Value.String()))
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redacting) WithAttrs(as []slog.Attr) slog.Handler { return redacting{h.Handler.WithAttrs(as)} }
func (h redacting) WithGroup(name string) slog.Handler    { return redacting{h.Handler.WithGroup(name)} }
