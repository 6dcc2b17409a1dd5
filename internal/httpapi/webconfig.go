package httpapi

import (
	"fmt"
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
		return fmt.Errorf("--web.config.file %q: %s", path, redactValues(err))
	}
	return nil
}

// quoted matches what YAML and bcrypt errors quote of the input.
var quoted = regexp.MustCompile("`[^`]*`|'[^']*'")

func redactValues(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "bcrypt") {
		return "basic_auth_users: every password must be a bcrypt hash (htpasswd -nBC 10 USER, or Python's bcrypt.hashpw)"
	}
	return quoted.ReplaceAllString(msg, "…")
}
