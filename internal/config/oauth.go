package config

import (
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// OAuth 2.0 grants (RFC 6749) that a client asks a token endpoint for.
const (
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
)

// OAuth is how an OAUTHBEARER client gets the access tokens it
// authenticates with: from a token endpoint, with a grant, or given.
type OAuth struct {
	// TokenEndpoint is the authorization server's token endpoint; "" when
	// the token is given (AccessToken, AccessTokenFile).
	TokenEndpoint string
	// Grant is the grant_type asked for: GrantClientCredentials (or a
	// server's own type that takes the client's id and secret: Strimzi's
	// grantType), GrantRefreshToken or GrantPassword.
	Grant string
	// ClientID and ClientSecret authenticate the client to the token
	// endpoint; the secret is empty for a public client (refresh token or
	// password grant).
	ClientID     string
	ClientSecret Secret
	// RefreshToken is the refresh_token grant's token.
	RefreshToken Secret
	// Username and Password are the password grant's.
	Username string
	Password Secret
	// AccessToken is a token given, used as it is. AccessTokenFile names
	// a file that holds one, read again at each authentication, so that a
	// token rotated in place (a Kubernetes service account's) is followed.
	AccessToken     Secret
	AccessTokenFile string
	// Scope and Audience are asked for with each token; "" leaves them out.
	Scope, Audience string
	// Extensions are SASL extensions sent with each token (KIP-342).
	Extensions map[string]string
	// TLS is how an https token endpoint is trusted: nil trusts the
	// system roots and verifies the host name. It has no client
	// certificate.
	TLS *TLS
	// ConnectTimeout and ReadTimeout bound a token request's connection
	// and the wait for its answer.
	ConnectTimeout, ReadTimeout time.Duration
	// MaxTokenExpiry caps how long a token is used; 0 takes the lifetime
	// the server gives.
	MaxTokenExpiry time.Duration
	// Retries is how many times a token request that got no answer (no
	// connection, a 5xx or 429 status) is made again, RetryPause apart.
	Retries    int
	RetryPause time.Duration
	// AcceptHeader sends Accept: application/json with token requests.
	AcceptHeader bool
	// JWT says tokens are JWTs: one whose lifetime the server does not
	// give lives until its exp claim.
	JWT bool
	// URLEncodeBasic URL-encodes the client's id and secret in the Basic
	// authorization header, as RFC 6749 section 2.3.1 says and Kafka's
	// sasl.oauthbearer.header.urlencode asks (off by default in Kafka and
	// Strimzi).
	URLEncodeBasic bool
	// RefreshWindow is the share of a token's lifetime after which the
	// next authentication fetches a new token.
	RefreshWindow float64
	// SubClaim is the claim that names the principal, the user the
	// brokers authorize (the brokers' sasl.oauthbearer.sub.claim.name).
	SubClaim string
}

// defaultOAuth has the defaults of Strimzi's client (60 s timeouts, no
// retries, the Accept header, JWTs) and Kafka's (a new token after 80%
// of its lifetime, the principal in the sub claim).
func defaultOAuth() *OAuth {
	return &OAuth{ConnectTimeout: time.Minute, ReadTimeout: time.Minute, AcceptHeader: true, JWT: true,
		RefreshWindow: 0.8, SubClaim: "sub"}
}

// Given reports whether the token is given rather than asked for.
func (o *OAuth) Given() bool { return o.TokenEndpoint == "" }

// Endpoint is the token endpoint for messages: without a password in the
// URL, should it hold one.
func (o *OAuth) Endpoint() string {
	u, err := url.Parse(o.TokenEndpoint)
	if err != nil {
		return o.TokenEndpoint
	}
	return u.Redacted()
}

// validate checks the invariants of a loaded OAuth configuration.
func (o *OAuth) validate() error {
	switch {
	case o.Given() && o.AccessToken.IsZero() && o.AccessTokenFile == "":
		return fmt.Errorf("OAuth needs a token endpoint or an access token")
	case o.Given():
		return nil
	case o.Grant == GrantRefreshToken && (o.ClientID == "" || o.RefreshToken.IsZero()):
		return fmt.Errorf("the OAuth refresh token grant needs a client id and a refresh token")
	case o.Grant == GrantPassword && (o.Username == "" || o.Password.IsZero()):
		return fmt.Errorf("the OAuth password grant needs a username and a password")
	case o.Grant != GrantRefreshToken && o.Grant != GrantPassword && (o.ClientID == "" || o.ClientSecret.IsZero()):
		return fmt.Errorf("the OAuth %s grant needs a client id and a client secret", o.Grant)
	}
	return nil
}

// oauthFields are the fields of Strimzi's KafkaClientAuthenticationOAuth
// (kafka.strimzi.io/v1beta2; type oauth is deprecated since Strimzi 0.49
// and gone from its v1 API, which keeps type custom).
var oauthFields = []string{"type", "clientId", "grantType", "username", "scope", "audience", "tokenEndpointUri",
	"connectTimeoutSeconds", "readTimeoutSeconds", "httpRetries", "httpRetryPauseMs", "clientSecret", "passwordSecret",
	"accessToken", "accessTokenLocation", "refreshToken", "tlsTrustedCertificates", "disableTlsHostnameVerification",
	"maxTokenExpirySeconds", "accessTokenIsJwt", "enableMetrics", "includeAcceptHeader",
	"clientAssertion", "clientAssertionLocation", "clientAssertionType", "saslExtensions"}

// nativeOAuthFields are native YAML's further fields: files and
// environment variables instead of secrets.
var nativeOAuthFields = []string{"clientSecretFile", "clientSecretEnv", "refreshTokenFile", "refreshTokenEnv",
	"accessTokenEnv", "passwordFile", "passwordEnv", "password", "tlsCaFile"}

// The places each OAuth secret may come from.
var (
	clientSecretSource = secretSource{secret: "clientSecret", key: "key", file: "clientSecretFile", env: "clientSecretEnv", use: UseOAuthSecret}
	refreshTokenSource = secretSource{secret: "refreshToken", key: "key", file: "refreshTokenFile", env: "refreshTokenEnv", use: UseOAuthSecret}
	accessTokenSource  = secretSource{secret: "accessToken", key: "key", env: "accessTokenEnv", use: UseOAuthSecret}
)

// extensionName is what Kafka takes as a SASL extension's name; "auth"
// is OAUTHBEARER's own.
var extensionName = regexp.MustCompile(`^[A-Za-z]+$`)

// oauth reads an authentication of type oauth: a token endpoint with the
// client's secret, a refresh token or a user's password, or a token given.
func (l *loader) oauth(o *yobj, at loc) (*OAuth, bool) {
	oa, ok := defaultOAuth(), true
	fail := func(at loc, format string, args ...any) {
		l.d.errorf(at, format, args...)
		ok = false
	}
	for _, f := range []string{"clientAssertion", "clientAssertionLocation", "clientAssertionType"} {
		if y, has := o.get(f); has {
			fail(y.at(), "client assertions (RFC 7523) are not supported by kmirror: authenticate the client with clientSecret")
		}
	}
	if y, has := o.get("enableMetrics"); has {
		l.d.notef(y.at(), "ignored: the metrics of Strimzi's OAuth library; kmirror's are on /metrics")
	}

	endpoint, epAt, hasEndpoint := o.str("tokenEndpointUri", l.d)
	oa.ClientID, _, _ = o.str("clientId", l.d)
	grantType, grantAt, hasGrantType := o.str("grantType", l.d)
	if hasGrantType && grantType == "" {
		fail(grantAt, "must not be empty")
	}
	username, userAt, hasUsername := o.str("username", l.d)
	oa.Scope, _, _ = o.str("scope", l.d)
	oa.Audience, _, _ = o.str("audience", l.d)
	location, locAt, hasLocation := o.str("accessTokenLocation", l.d)
	if hasLocation && location == "" {
		fail(locAt, "must not be empty")
	}
	for _, n := range []struct {
		field string
		min   int
		dst   *time.Duration
		unit  time.Duration
	}{
		{"connectTimeoutSeconds", 1, &oa.ConnectTimeout, time.Second},
		{"readTimeoutSeconds", 1, &oa.ReadTimeout, time.Second},
		{"httpRetryPauseMs", 0, &oa.RetryPause, time.Millisecond},
		{"maxTokenExpirySeconds", 0, &oa.MaxTokenExpiry, time.Second},
	} {
		if v, given := l.atLeast(o, n.field, n.min); given {
			*n.dst = time.Duration(v) * n.unit
		}
	}
	if v, given := l.atLeast(o, "httpRetries", 0); given {
		oa.Retries = v
	}
	for _, b := range []struct {
		field string
		dst   *bool
	}{{"accessTokenIsJwt", &oa.JWT}, {"includeAcceptHeader", &oa.AcceptHeader}} {
		l.boolField(o, b.field, b.dst)
	}
	var skipHostname bool
	l.boolField(o, "disableTlsHostnameVerification", &skipHostname)
	oa.Extensions = l.extensions(o)

	secret, hasSecret, ok1 := l.secretFrom(o, clientSecretSource, at)
	refresh, hasRefresh, ok2 := l.secretFrom(o, refreshTokenSource, at)
	token, hasToken, ok3 := l.secretFrom(o, accessTokenSource, at)
	password, hasPassword, ok4 := l.secretFrom(o, passwordSource, at)
	ok = ok && ok1 && ok2 && ok3 && ok4
	oa.ClientSecret, oa.RefreshToken, oa.AccessToken, oa.Username, oa.Password = secret, refresh, token, username, password

	cas, from := l.trustedCertificates(o.list("tlsTrustedCertificates", l.d))
	if l.native {
		if path, at, has := o.str("tlsCaFile", l.d); has {
			if data, read := l.file(path, at); read {
				cas, from = l.addCerts(cas, from, data, "file "+path, at)
			}
		}
	}
	if len(from) > 0 || skipHostname {
		oa.TLS = newTLS(cas, from)
		oa.TLS.SkipHostnameVerification = skipHostname
	}

	switch {
	case hasToken || hasLocation:
		if hasToken && hasLocation {
			fail(locAt, "give one of accessToken and accessTokenLocation")
		}
		if hasEndpoint || hasSecret || hasRefresh || hasPassword || hasUsername {
			fail(at, "a given access token (accessToken, accessTokenLocation) is used as it is: it cannot be combined with tokenEndpointUri, clientSecret, refreshToken, username or passwordSecret")
		}
		oa.AccessTokenFile = location
		if hasGrantType {
			fail(grantAt, "a given access token is used as it is: no grant is asked for")
		}
		return oa, ok
	case !hasEndpoint:
		fail(at, "type oauth needs tokenEndpointUri and clientId with clientSecret or refreshToken (or username with passwordSecret), or accessToken or accessTokenLocation")
		return oa, false
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail(epAt, "%q is not an http or https URL", endpoint)
	}
	oa.TokenEndpoint = endpoint
	if oa.TLS != nil && u != nil && u.Scheme == "http" {
		l.d.warnf(epAt, "tlsTrustedCertificates and disableTlsHostnameVerification are ignored: the token endpoint is http, not https")
	}
	switch {
	case hasRefresh && (hasPassword || hasUsername):
		fail(at, "give one of refreshToken and passwordSecret")
	case hasRefresh:
		oa.Grant = GrantRefreshToken
		if oa.ClientID == "" {
			o.missing("clientId", loc{key: child(o.path, "clientId"), line: at.line}, l.d)
			ok = false
		}
	case hasPassword || hasUsername:
		oa.Grant = GrantPassword
		if !hasUsername {
			o.missing("username", userAt, l.d)
			ok = false
		}
		if !hasPassword {
			o.missing(passwordSource.secret, loc{key: child(o.path, passwordSource.secret), line: at.line}, l.d)
			ok = false
		}
	case hasSecret:
		oa.Grant = GrantClientCredentials
		if hasGrantType {
			oa.Grant = grantType
		}
		if oa.ClientID == "" {
			o.missing("clientId", loc{key: child(o.path, "clientId"), line: at.line}, l.d)
			ok = false
		}
	default:
		fail(at, "type oauth with tokenEndpointUri needs clientId and clientSecret (client credentials), clientId and refreshToken, or username and passwordSecret")
	}
	if hasGrantType && oa.Grant != grantType {
		fail(grantAt, "grantType applies to clientId with clientSecret")
	}
	return oa, ok
}

// extensions reads saslExtensions, a mapping of names to values.
func (l *loader) extensions(o *yobj) map[string]string {
	var ext map[string]string
	for _, e := range o.entries("saslExtensions", 0, "", l.d) {
		if !extensionName.MatchString(e.key) || e.key == "auth" {
			l.d.errorf(e.at, "%q cannot name a SASL extension (letters only, not auth)", e.key)
			continue
		}
		if ext == nil {
			ext = map[string]string{}
		}
		ext[e.key] = e.value
	}
	return ext
}

// atLeast reads an integer field that must be at least min; given is
// false when it is absent or wrong (which is reported).
func (l *loader) atLeast(o *yobj, name string, min int) (n int, given bool) {
	n, at, given := o.integer(name, l.d)
	if given && n < min {
		l.d.errorf(at, "%d must be at least %d", n, min)
		return 0, false
	}
	return n, given
}

// boolField reads a true/false field into dst, when it is there.
func (l *loader) boolField(o *yobj, name string, dst *bool) {
	v, at, given := o.str(name, l.d)
	if !given {
		return
	}
	if err := setBool(dst, v); err != nil {
		l.d.errorf(at, "%v", err)
	}
}
