package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/kmirror/kmirror/internal/pki"
	"github.com/kmirror/kmirror/internal/testbed"
)

const oauthResource = "../config/testdata/oauth-kmm2.yaml"

// OAuth clusters offline: validate says where the tokens come from and
// notes their secrets as not checked; with the secrets, or from MM2
// properties, no secret is printed; --kafkauser prints users without
// authentication, named after the clients.
func TestOAuthOffline(t *testing.T) {
	ca, err := pki.NewCA("oauth-cli-ca")
	if err != nil {
		t.Fatal(err)
	}
	const clientSecret, refreshToken, propsSecret = "source-cl1ent-s3cret", "target-refr3sh", "s3cr3t"
	secrets := t.TempDir()
	testbed.WriteFiles(t, secrets, map[string][]byte{
		"source-cluster-ca-cert/ca.crt":       ca.PEM,
		"target-cluster-ca-cert/ca.crt":       ca.PEM,
		"sso-ca/ca.crt":                       ca.PEM,
		"kmirror-oauth/source-client-secret":  []byte(clientSecret + "\n"),
		"kmirror-oauth-refresh/refresh-token": []byte(refreshToken),
	})
	tests := []struct {
		name, golden string
		args         []string
	}{
		{"validate", "validate-oauth", []string{"validate", "-c", oauthResource}},
		{"validate with the secrets", "", []string{"validate", "-c", oauthResource, "--secrets-dir", secrets}},
		{"validate properties", "validate-oauth-properties", []string{"validate", "-c", "../config/testdata/oauth.properties"}},
		{"kafkauser", "preflight-kafkauser-oauth", []string{"preflight", "-c", oauthResource, "--kafkauser"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := execute(t, context.Background(), tt.args...)
			if code != ExitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, s := range []string{clientSecret, refreshToken, propsSecret} {
				if strings.Contains(out+errOut, s) {
					t.Errorf("a secret is printed:\n%s%s", out, errOut)
				}
			}
			if tt.golden != "" {
				golden(t, tt.golden, out)
			}
		})
	}
}
