package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/pki"
)

// The secret values of the tests below, which no message may hold.
const (
	testClientSecret = "cl1ent-s3cret"
	testRefreshToken = "refr3sh-t0ken"
	testAccessToken  = "acc3ss-t0ken"
	testPassword     = "passw0rd-s3cret"
)

// oauthResource is a KafkaMirrorMaker2 whose target authenticates as
// auth says (the authentication's fields, indented by six spaces).
func oauthResource(auth string) string {
	return `apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaMirrorMaker2
metadata:
  name: mm2
spec:
  connectCluster: target
  clusters:
    - alias: source
      bootstrapServers: source:9092
    - alias: target
      bootstrapServers: target:9093
      tls:
        trustedCertificates:
          - secretName: target-ca
            certificate: ca.crt
      authentication:
        type: oauth
` + auth + `  mirrors:
    - sourceCluster: source
      targetCluster: target
      topicsPattern: ".*"
`
}

// oauthSecrets writes the secrets the OAuth tests name, as Kubernetes
// mounts them, and returns their directory and the CA in target-ca and
// oauth-ca.
func oauthSecrets(t *testing.T) (string, *pki.CA) {
	t.Helper()
	ca, err := pki.NewCA("oauth-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string]string{
		"target-ca/ca.crt":          string(ca.PEM),
		"oauth-ca/ca.crt":           string(ca.PEM),
		"oauth-client/secret":       testClientSecret + "\n",
		"oauth-refresh/token":       testRefreshToken,
		"oauth-access/token":        testAccessToken + "\n",
		"oauth-user/password":       testPassword,
		"oauth-client/not-a-secret": "x",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, []byte(data))
	}
	return dir, ca
}

// noOAuthSecret fails the test when text holds a secret value.
func noOAuthSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{testClientSecret, testRefreshToken, testAccessToken, testPassword} {
		if strings.Contains(text, s) {
			t.Errorf("%s holds the secret %q:\n%s", what, s, text)
		}
	}
}

func TestOAuthStrimzi(t *testing.T) {
	secrets, ca := oauthSecrets(t)
	const clientCredentials = `        tokenEndpointUri: https://sso.example.com/realms/kafka/protocol/openid-connect/token
        clientId: kmirror
        clientSecret:
          secretName: oauth-client
          key: secret
        scope: kafka
        audience: kafka-brokers
        tlsTrustedCertificates:
          - secretName: oauth-ca
            certificate: ca.crt
        disableTlsHostnameVerification: true
        connectTimeoutSeconds: 5
        readTimeoutSeconds: 7
        httpRetries: 2
        httpRetryPauseMs: 250
        maxTokenExpirySeconds: 600
        accessTokenIsJwt: false
        includeAcceptHeader: false
        enableMetrics: true
        saslExtensions:
          logicalCluster: lkc-1
`
	tests := []struct {
		name  string
		auth  string
		check func(t *testing.T, o *OAuth)
		notes []string
	}{
		{"client credentials", clientCredentials, func(t *testing.T, o *OAuth) {
			want := OAuth{TokenEndpoint: "https://sso.example.com/realms/kafka/protocol/openid-connect/token", Grant: GrantClientCredentials,
				ClientID: "kmirror", Scope: "kafka", Audience: "kafka-brokers", ConnectTimeout: 5 * time.Second, ReadTimeout: 7 * time.Second,
				Retries: 2, RetryPause: 250 * time.Millisecond, MaxTokenExpiry: 10 * time.Minute, RefreshWindow: 0.8, SubClaim: "sub"}
			got := *o
			got.ClientSecret, got.TLS, got.Extensions = Secret{}, nil, nil
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
				t.Errorf("OAuth\n%#v, want\n%#v", got, want)
			}
			if o.ClientSecret.Reveal() != testClientSecret {
				t.Error("the client secret was not read, or its newline kept")
			}
			if !maps.Equal(o.Extensions, map[string]string{"logicalCluster": "lkc-1"}) {
				t.Errorf("extensions %v", o.Extensions)
			}
			if o.TLS == nil || !o.TLS.SkipHostnameVerification || !slices.Equal(o.TLS.CAs, []string{"secret oauth-ca/ca.crt"}) {
				t.Fatalf("TLS %+v", o.TLS)
			}
			if _, err := ca.Cert.Verify(x509.VerifyOptions{Roots: o.TLS.RootCAs}); err != nil {
				t.Errorf("the endpoint's trusted certificates were not read: %v", err)
			}
		}, []string{"spec.clusters[1].authentication.enableMetrics (line 36): ignored: the metrics of Strimzi's OAuth library; kmirror's are on /metrics"}},
		{"custom grant type", `        tokenEndpointUri: https://sso.example.com/token
        clientId: kmirror
        grantType: urn:example:grant
        clientSecret: {secretName: oauth-client, key: secret}
`, func(t *testing.T, o *OAuth) {
			if o.Grant != "urn:example:grant" || o.TLS != nil || !o.JWT || !o.AcceptHeader || o.ConnectTimeout != time.Minute {
				t.Errorf("OAuth %+v", o)
			}
		}, nil},
		{"refresh token", `        tokenEndpointUri: https://sso.example.com/token
        clientId: kmirror
        refreshToken: {secretName: oauth-refresh, key: token}
`, func(t *testing.T, o *OAuth) {
			if o.Grant != GrantRefreshToken || o.RefreshToken.Reveal() != testRefreshToken || !o.ClientSecret.IsZero() {
				t.Errorf("OAuth %+v", o)
			}
		}, nil},
		{"refresh token of a confidential client", `        tokenEndpointUri: https://sso.example.com/token
        clientId: kmirror
        clientSecret: {secretName: oauth-client, key: secret}
        refreshToken: {secretName: oauth-refresh, key: token}
`, func(t *testing.T, o *OAuth) {
			if o.Grant != GrantRefreshToken || o.ClientSecret.Reveal() != testClientSecret {
				t.Errorf("OAuth %+v", o)
			}
		}, nil},
		{"password", `        tokenEndpointUri: https://sso.example.com/token
        clientId: kmirror
        username: mirror
        passwordSecret: {secretName: oauth-user, password: password}
`, func(t *testing.T, o *OAuth) {
			if o.Grant != GrantPassword || o.Username != "mirror" || o.Password.Reveal() != testPassword {
				t.Errorf("OAuth %+v", o)
			}
		}, nil},
		{"access token", `        accessToken: {secretName: oauth-access, key: token}
`, func(t *testing.T, o *OAuth) {
			if !o.Given() || o.AccessToken.Reveal() != testAccessToken || o.Grant != "" {
				t.Errorf("OAuth %+v", o)
			}
		}, nil},
		{"access token location", `        accessTokenLocation: /var/run/secrets/kubernetes.io/serviceaccount/token
`, func(t *testing.T, o *OAuth) {
			if !o.Given() || o.AccessTokenFile != "/var/run/secrets/kubernetes.io/serviceaccount/token" {
				t.Errorf("OAuth %+v", o)
			}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("kmm2.yaml", []byte(oauthResource(tt.auth)), Options{SecretsDir: secrets})
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Cluster("target").SASL
			if s == nil || s.Mechanism != MechanismOAuthBearer || s.OAuth == nil {
				t.Fatalf("SASL %+v", s)
			}
			tt.check(t, s.OAuth)
			if got := diagStrings(cfg.Diagnostics); !slices.Equal(got, prefixed("note: ", tt.notes)) {
				t.Errorf("diagnostics %q, want %q", got, tt.notes)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			noOAuthSecret(t, "the OAuth settings", fmt.Sprintf("%v %+v %#v %+v", s, s, s.OAuth, *s.OAuth))
		})
	}
}

func prefixed(p string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = p + l
	}
	return out
}

// Offline, the OAuth secrets are not read but listed, as the others are,
// and the configuration keeps its shape; unresolved, every one of them is
// a reference for the pods to mount.
func TestOAuthSecretsNotRead(t *testing.T) {
	text := oauthResource(`        tokenEndpointUri: https://sso.example.com/token
        clientId: kmirror
        clientSecret: {secretName: oauth-client, key: secret}
        tlsTrustedCertificates:
          - secretName: oauth-ca
            certificate: ca.crt
`)
	want := []string{
		"secret target-ca/ca.crt at spec.clusters[1].tls.trustedCertificates[0].certificate (line 15)",
		"secret oauth-client/secret at spec.clusters[1].authentication.clientSecret.key (line 20)",
		"secret oauth-ca/ca.crt at spec.clusters[1].authentication.tlsTrustedCertificates[0].certificate (line 23)",
	}
	for _, opts := range []Options{{Offline: true}, {Unresolved: true}} {
		cfg, err := Parse("kmm2.yaml", []byte(text), opts)
		if err != nil {
			t.Fatalf("%+v: %v", opts, err)
		}
		var got []string
		for _, r := range cfg.References {
			got = append(got, r.String()+" at "+r.At)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: references\n%q, want\n%q", opts, got, want)
		}
		o := cfg.Cluster("target").SASL.OAuth
		if o.Grant != GrantClientCredentials || o.ClientID != "kmirror" || !o.ClientSecret.IsZero() || !slices.Equal(o.TLS.CAs, []string{"secret oauth-ca/ca.crt"}) {
			t.Errorf("%+v: OAuth %+v", opts, o)
		}
	}
	_, err := Parse("kmm2.yaml", []byte(text), Options{})
	if err == nil || !strings.Contains(err.Error(), `cluster "target": secret target-ca/ca.crt and 2 more: not read (no --secrets-dir given)`) {
		t.Errorf("without --secrets-dir: %v", err)
	}
}

func TestOAuthNative(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("native-oauth-ca")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ca.crt"), ca.PEM)
	writeFile(t, filepath.Join(dir, "client-secret"), []byte(testClientSecret+"\n"))
	native := func(auth string) string {
		return `connectCluster: target
clusters:
  - alias: source
    bootstrapServers: source:9092
  - alias: target
    bootstrapServers: target:9093
    authentication:
      type: oauth
      tokenEndpointUri: https://sso.example.com/token
      clientId: kmirror
` + auth + `mirrors:
  - sourceCluster: source
    targetCluster: target
`
	}
	env := map[string]string{"OAUTH_SECRET": testClientSecret, "OAUTH_REFRESH": testRefreshToken, "OAUTH_TOKEN": testAccessToken}
	opts := Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	for _, tt := range []struct{ name, auth string }{
		{"file", "      clientSecretFile: client-secret\n      tlsCaFile: ca.crt\n"},
		{"environment", "      clientSecretEnv: OAUTH_SECRET\n      tlsCaFile: ca.crt\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".yaml")
			writeFile(t, path, []byte(native(tt.auth)))
			cfg, err := Load(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			o := cfg.Cluster("target").SASL.OAuth
			if o.ClientSecret.Reveal() != testClientSecret || o.TLS == nil || !slices.Equal(o.TLS.CAs, []string{"file ca.crt"}) {
				t.Errorf("OAuth %+v", o)
			}
			if len(cfg.Diagnostics) != 0 {
				t.Errorf("diagnostics %q", diagStrings(cfg.Diagnostics))
			}
		})
	}
	path := filepath.Join(dir, "refresh.yaml")
	writeFile(t, path, []byte(native("      refreshTokenEnv: OAUTH_REFRESH\n")))
	if cfg, err := Load(path, opts); err != nil || cfg.Cluster("target").SASL.OAuth.RefreshToken.Reveal() != testRefreshToken {
		t.Errorf("refresh token from the environment: %v", err)
	}
}

func TestOAuthProperties(t *testing.T) {
	props := func(lines string) string {
		return `clusters = source, target
source.bootstrap.servers = source:9092
target.bootstrap.servers = target:9093
target.security.protocol = SASL_SSL
target.sasl.mechanism = OAUTHBEARER
` + lines + `source->target.enabled = true
`
	}
	const handler = "target.sasl.login.callback.handler.class = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n"
	tests := []struct {
		name  string
		lines string
		want  OAuth
		diags []string
	}{
		{"JAAS options", handler + `target.sasl.oauthbearer.token.endpoint.url = https://sso.example.com/token
target.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
  clientId="kmirror" clientSecret="` + testClientSecret + `" scope="kafka" extension_logicalCluster="lkc-1";
target.sasl.login.connect.timeout.ms = 5000
target.sasl.login.read.timeout.ms = 7000
target.sasl.oauthbearer.sub.claim.name = client_id
target.sasl.oauthbearer.scope.claim.name = scp
target.sasl.oauthbearer.header.urlencode = true
target.sasl.login.refresh.window.factor = 0.5
target.sasl.login.retry.backoff.ms = 100
`, OAuth{TokenEndpoint: "https://sso.example.com/token", Grant: GrantClientCredentials, ClientID: "kmirror", Scope: "kafka",
			Extensions: map[string]string{"logicalCluster": "lkc-1"}, ConnectTimeout: 5 * time.Second, ReadTimeout: 7 * time.Second,
			AcceptHeader: true, JWT: true, URLEncodeBasic: true, RefreshWindow: 0.5, SubClaim: "client_id"},
			[]string{
				"note: target.sasl.login.retry.backoff.ms (line 16): accepted; no effect: a failed token request is made again when the client connects again, at its backoff",
				"note: target.sasl.oauthbearer.scope.claim.name (line 13): accepted; no effect: kmirror does not validate its tokens; the brokers do",
			}},
		{"the older handler and Kafka 4.1's keys", `target.sasl.login.callback.handler.class = org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler
target.sasl.oauthbearer.token.endpoint.url = https://sso.example.com/token
target.sasl.oauthbearer.jwt.retriever.class = org.apache.kafka.common.security.oauthbearer.ClientCredentialsJwtRetriever
target.sasl.oauthbearer.client.credentials.client.id = kmirror
target.sasl.oauthbearer.client.credentials.client.secret = ` + testClientSecret + `
target.sasl.oauthbearer.scope = kafka
target.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="old" scope="old";
`, OAuth{TokenEndpoint: "https://sso.example.com/token", Grant: GrantClientCredentials, ClientID: "kmirror", Scope: "kafka",
			ConnectTimeout: time.Minute, ReadTimeout: time.Minute, AcceptHeader: true, JWT: true, RefreshWindow: 0.8, SubClaim: "sub"}, nil},
		{"a token file", handler + `target.sasl.oauthbearer.token.endpoint.url = file:///var/run/secrets/token
target.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
`, OAuth{AccessTokenFile: "/var/run/secrets/token", ConnectTimeout: time.Minute, ReadTimeout: time.Minute, AcceptHeader: true, JWT: true,
			RefreshWindow: 0.8, SubClaim: "sub"}, nil},
		{"no handler", `target.sasl.oauthbearer.token.endpoint.url = https://sso.example.com/token
target.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="kmirror" clientSecret="` + testClientSecret + `";
`, OAuth{TokenEndpoint: "https://sso.example.com/token", Grant: GrantClientCredentials, ClientID: "kmirror",
			ConnectTimeout: time.Minute, ReadTimeout: time.Minute, AcceptHeader: true, JWT: true, RefreshWindow: 0.8, SubClaim: "sub"},
			[]string{"warning: target.sasl.login.callback.handler.class: MM2 reads sasl.oauthbearer.token.endpoint.url only with sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler; kmirror reads it without"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("mm2.properties", []byte(props(tt.lines)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Cluster("target").SASL
			if s == nil || s.Mechanism != MechanismOAuthBearer || s.OAuth == nil {
				t.Fatalf("SASL %+v", s)
			}
			got := *s.OAuth
			if !got.Given() && got.ClientSecret.Reveal() != testClientSecret {
				t.Error("client secret not read")
			}
			got.ClientSecret = Secret{}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Errorf("OAuth\n%#v, want\n%#v", got, tt.want)
			}
			if d := diagStrings(cfg.Diagnostics); !slices.Equal(d, tt.diags) {
				t.Errorf("diagnostics\n%q, want\n%q", d, tt.diags)
			}
		})
	}
	// OAuth keys of another mechanism say so.
	cfg, err := Parse("mm2.properties", []byte(`clusters = a, b
a.bootstrap.servers = a:9092
b.bootstrap.servers = b:9092
b.security.protocol = SASL_SSL
b.sasl.mechanism = PLAIN
b.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";
b.sasl.oauthbearer.token.endpoint.url = https://sso.example.com/token
a->b.enabled = true
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := diagStrings(cfg.Diagnostics), []string{"warning: b.sasl.oauthbearer.token.endpoint.url (line 7): ignored: sasl.mechanism is PLAIN, not OAUTHBEARER"}; !slices.Equal(got, want) {
		t.Errorf("diagnostics %q, want %q", got, want)
	}
}

// Every OAuth configuration kmirror cannot use is one error that names
// the key; none quotes a secret.
func TestOAuthInvalid(t *testing.T) {
	secrets, _ := oauthSecrets(t)
	const endpoint = "        tokenEndpointUri: https://sso.example.com/token\n"
	const secret = "        clientSecret: {secretName: oauth-client, key: secret}\n"
	yamlCases := []struct{ name, auth, want string }{
		{"nothing", "", `spec.clusters[1].authentication.type (line 17): type oauth needs tokenEndpointUri and clientId with clientSecret or refreshToken (or username with passwordSecret), or accessToken or accessTokenLocation`},
		{"no credentials", endpoint + "        clientId: kmirror\n", `type oauth with tokenEndpointUri needs clientId and clientSecret (client credentials), clientId and refreshToken, or username and passwordSecret`},
		{"no client id", endpoint + secret, `spec.clusters[1].authentication.clientId (line 17): required`},
		{"not a URL", "        tokenEndpointUri: sso.example.com/token\n        clientId: kmirror\n" + secret, `spec.clusters[1].authentication.tokenEndpointUri (line 18): "sso.example.com/token" is not an http or https URL`},
		{"token and endpoint", endpoint + "        accessToken: {secretName: oauth-access, key: token}\n", `a given access token (accessToken, accessTokenLocation) is used as it is: it cannot be combined with tokenEndpointUri`},
		{"two tokens", "        accessToken: {secretName: oauth-access, key: token}\n        accessTokenLocation: /token\n", `spec.clusters[1].authentication.accessTokenLocation (line 19): give one of accessToken and accessTokenLocation`},
		{"refresh and password", endpoint + "        clientId: kmirror\n        username: u\n        refreshToken: {secretName: oauth-refresh, key: token}\n        passwordSecret: {secretName: oauth-user, password: password}\n", `give one of refreshToken and passwordSecret`},
		{"password without username", endpoint + "        passwordSecret: {secretName: oauth-user, password: password}\n", `spec.clusters[1].authentication.username (line 17): required`},
		{"grant type with a refresh token", endpoint + "        clientId: kmirror\n        grantType: x\n        refreshToken: {secretName: oauth-refresh, key: token}\n", `spec.clusters[1].authentication.grantType (line 20): grantType applies to clientId with clientSecret`},
		{"client assertion", endpoint + "        clientId: kmirror\n        clientAssertion: {secretName: oauth-client, key: secret}\n", `spec.clusters[1].authentication.clientAssertion (line 20): client assertions (RFC 7523) are not supported by kmirror`},
		{"zero timeout", endpoint + "        clientId: kmirror\n" + secret + "        connectTimeoutSeconds: 0\n", `spec.clusters[1].authentication.connectTimeoutSeconds (line 21): 0 must be at least 1`},
		{"bad extension", endpoint + "        clientId: kmirror\n" + secret + "        saslExtensions:\n          auth: x\n", `spec.clusters[1].authentication.saslExtensions.auth (line 22): "auth" cannot name a SASL extension`},
		{"missing secret key", endpoint + "        clientId: kmirror\n        clientSecret: {secretName: oauth-client, key: nope}\n", `secret "oauth-client" key "nope"`},
		{"misspelt", endpoint + "        clientId: kmirror\n        clientSecrets: {secretName: oauth-client, key: secret}\n", `spec.clusters[1].authentication.clientSecrets (line 20): unknown field, ignored; did you mean clientSecret?`},
	}
	for _, tt := range yamlCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("kmm2.yaml", []byte(oauthResource(tt.auth)), Options{SecretsDir: secrets, Strict: true})
			checkOAuthError(t, err, tt.want)
		})
	}
	props := func(lines string) string {
		return "clusters = a, b\na.bootstrap.servers = a:9092\nb.bootstrap.servers = b:9092\nb.security.protocol = SASL_SSL\nb.sasl.mechanism = OAUTHBEARER\n" +
			lines + "a->b.enabled = true\n"
	}
	const handler = "b.sasl.login.callback.handler.class = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n"
	const url = "b.sasl.oauthbearer.token.endpoint.url = https://sso.example.com/token\n"
	const jaas = "b.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"kmirror\" clientSecret=\"" + testClientSecret + "\";\n"
	propCases := []struct{ name, lines, want string }{
		{"no JAAS", handler + url, `b.sasl.jaas.config: required with SASL: org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="…" clientSecret="…";`},
		{"unsecured", jaas, `b.sasl.login.callback.handler.class: required with OAUTHBEARER: org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler and sasl.oauthbearer.token.endpoint.url (Kafka's unsecured tokens are not supported)`},
		{"no endpoint", handler + jaas, `b.sasl.oauthbearer.token.endpoint.url: required with OAUTHBEARER`},
		{"Strimzi's handler", "b.sasl.login.callback.handler.class = io.strimzi.kafka.oauth.client.JaasClientOauthLoginCallbackHandler\n" + url + jaas, `b.sasl.login.callback.handler.class (line 6): Strimzi's OAuth login handler is not supported`},
		{"jwt-bearer", handler + url + jaas + "b.sasl.oauthbearer.jwt.retriever.class = org.apache.kafka.common.security.oauthbearer.JwtBearerJwtRetriever\n", `b.sasl.oauthbearer.jwt.retriever.class (line 9): the jwt-bearer grant (client assertions) is not supported by kmirror`},
		{"no secret", handler + url + "b.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"kmirror\";\n", `b.sasl.jaas.config (line 8): needs the clientId and clientSecret options (or sasl.oauthbearer.client.credentials.client.id and sasl.oauthbearer.client.credentials.client.secret)`},
		{"unsecured option", handler + url + "b.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"admin\" clientId=\"k\" clientSecret=\"" + testClientSecret + "\";\n", `option unsecuredLoginStringClaim_sub: Kafka's unsecured tokens are not supported`},
		{"wrong module", handler + url + "b.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"" + testPassword + "\";\n", `sasl.mechanism OAUTHBEARER needs the login module org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule`},
		{"bad URL", handler + "b.sasl.oauthbearer.token.endpoint.url = ftp://sso.example.com/token\n" + jaas, `b.sasl.oauthbearer.token.endpoint.url (line 7): "ftp://sso.example.com/token" is not an http, https or file URL`},
		{"bad window", handler + url + jaas + "b.sasl.login.refresh.window.factor = 0.2\n", `b.sasl.login.refresh.window.factor (line 9): "0.2" must be between 0.5 and 1`},
	}
	for _, tt := range propCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("mm2.properties", []byte(props(tt.lines)), Options{Strict: true})
			checkOAuthError(t, err, tt.want)
		})
	}
}

func checkOAuthError(t *testing.T, err error, want string) {
	t.Helper()
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Parse = %v, want a *config.Error", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error does not contain %q:\n%s", want, err)
	}
	noOAuthSecret(t, "the error", err.Error())
}

// Strimzi's v1 API has no type oauth: kmirror reads it, and warns that
// Strimzi would not.
func TestOAuthInStrimziV1(t *testing.T) {
	text := `apiVersion: kafka.strimzi.io/v1
kind: KafkaMirrorMaker2
metadata:
  name: mm2
spec:
  target:
    alias: target
    bootstrapServers: target:9093
    authentication:
      type: oauth
      accessTokenLocation: /var/run/secrets/kubernetes.io/serviceaccount/token
  mirrors:
    - source:
        alias: source
        bootstrapServers: source:9092
      topicsPattern: ".*"
`
	cfg, err := Parse("kmm2.yaml", []byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"warning: spec.target.authentication.type (line 10): Strimzi's v1 API has no type oauth (deprecated since Strimzi 0.49 for type custom): Strimzi would refuse this resource; kmirror reads it as v1beta2 does"}
	if got := diagStrings(cfg.Diagnostics); !slices.Equal(got, want) {
		t.Errorf("diagnostics %q, want %q", got, want)
	}
	if o := cfg.Cluster("target").SASL.OAuth; o.AccessTokenFile != "/var/run/secrets/kubernetes.io/serviceaccount/token" {
		t.Errorf("OAuth %+v", o)
	}
}
