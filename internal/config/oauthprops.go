package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Kafka's OAUTHBEARER client: its login module, and the login callback
// handler that fetches tokens from a token endpoint, under its name and
// its older one; Strimzi's own handler.
const (
	oauthLoginModule         = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
	oauthLoginHandler        = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
	oauthLoginHandlerSecured = "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler"
	strimziLoginHandler      = "io.strimzi.kafka.oauth.client.JaasClientOauthLoginCallbackHandler"
)

// Kafka's JWT retrievers (Kafka 4.1+, KIP-1139): the default picks the
// client credentials one for an http(s) token endpoint and the file one
// for a file: URL.
const (
	jwtRetrieverDefault           = "org.apache.kafka.common.security.oauthbearer.DefaultJwtRetriever"
	jwtRetrieverClientCredentials = "org.apache.kafka.common.security.oauthbearer.ClientCredentialsJwtRetriever"
	jwtRetrieverFile              = "org.apache.kafka.common.security.oauthbearer.FileJwtRetriever"
	jwtRetrieverJWTBearer         = "org.apache.kafka.common.security.oauthbearer.JwtBearerJwtRetriever"
)

// The client keys of Kafka's OAUTHBEARER login that kmirror applies.
const (
	KeySASLLoginCallbackHandler = "sasl.login.callback.handler.class"
	KeyOAuthTokenEndpoint       = "sasl.oauthbearer.token.endpoint.url"
	KeyOAuthJWTRetriever        = "sasl.oauthbearer.jwt.retriever.class"
	KeyOAuthClientID            = "sasl.oauthbearer.client.credentials.client.id"
	KeyOAuthClientSecret        = "sasl.oauthbearer.client.credentials.client.secret"
	KeyOAuthScope               = "sasl.oauthbearer.scope"
	KeyOAuthSubClaim            = "sasl.oauthbearer.sub.claim.name"
	KeyOAuthHeaderURLEncode     = "sasl.oauthbearer.header.urlencode"
	KeySASLLoginConnectTimeout  = "sasl.login.connect.timeout.ms"
	KeySASLLoginReadTimeout     = "sasl.login.read.timeout.ms"
	KeySASLLoginRefreshWindow   = "sasl.login.refresh.window.factor"
)

var oauthKeys = []string{KeySASLLoginCallbackHandler, KeyOAuthTokenEndpoint, KeyOAuthJWTRetriever, KeyOAuthClientID,
	KeyOAuthClientSecret, KeyOAuthScope, KeyOAuthSubClaim, KeyOAuthHeaderURLEncode, KeySASLLoginConnectTimeout,
	KeySASLLoginReadTimeout, KeySASLLoginRefreshWindow}

// oauthNoEffectKeys are OAUTHBEARER keys accepted without effect, with the
// reason.
var oauthNoEffectKeys = map[string]string{
	"sasl.login.retry.backoff.ms":                         "a failed token request is made again when the client connects again, at its backoff",
	"sasl.login.retry.backoff.max.ms":                     "a failed token request is made again when the client connects again, at its backoff",
	"sasl.login.refresh.window.jitter":                    "the first authentication after " + KeySASLLoginRefreshWindow + " of a token's lifetime fetches a new token",
	"sasl.login.refresh.min.period.seconds":               "the first authentication after " + KeySASLLoginRefreshWindow + " of a token's lifetime fetches a new token",
	"sasl.login.refresh.buffer.seconds":                   "the first authentication after " + KeySASLLoginRefreshWindow + " of a token's lifetime fetches a new token",
	"sasl.oauthbearer.scope.claim.name":                   "kmirror does not validate its tokens; the brokers do",
	"sasl.oauthbearer.clock.skew.seconds":                 "kmirror does not validate its tokens; the brokers do",
	"sasl.oauthbearer.jwt.validator.class":                "kmirror does not validate its tokens; the brokers do",
	"sasl.oauthbearer.expected.audience":                  "a broker setting",
	"sasl.oauthbearer.expected.issuer":                    "a broker setting",
	"sasl.oauthbearer.jwks.endpoint.url":                  "a broker setting",
	"sasl.oauthbearer.jwks.endpoint.refresh.ms":           "a broker setting",
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.ms":     "a broker setting",
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms": "a broker setting",
}

// oauthAssertionKeys configure Kafka's jwt-bearer grant (a client
// assertion), which kmirror does not support.
var oauthAssertionKeys = []string{"sasl.oauthbearer.assertion.algorithm", "sasl.oauthbearer.assertion.claim.aud",
	"sasl.oauthbearer.assertion.claim.exp.seconds", "sasl.oauthbearer.assertion.claim.iss",
	"sasl.oauthbearer.assertion.claim.jti.include", "sasl.oauthbearer.assertion.claim.nbf.seconds",
	"sasl.oauthbearer.assertion.claim.sub", "sasl.oauthbearer.assertion.file", "sasl.oauthbearer.assertion.private.key.file",
	"sasl.oauthbearer.assertion.private.key.passphrase", "sasl.oauthbearer.assertion.template.file"}

// oauthSecurityKeys are every OAUTHBEARER key of a properties file.
func oauthSecurityKeys() []string {
	return slices.Concat(oauthKeys, slices.Sorted(maps.Keys(oauthNoEffectKeys)), oauthAssertionKeys)
}

// isOAuthKey tells the keys that only OAUTHBEARER reads.
func isOAuthKey(k string) bool {
	return slices.Contains(oauthKeys, k) || oauthNoEffectKeys[k] != "" || slices.Contains(oauthAssertionKeys, k)
}

// propertiesOAuth reads the OAUTHBEARER login of a cluster: Kafka's
// OAuthBearerLoginCallbackHandler with a token endpoint, the client's id
// and secret in the JAAS options (clientId, clientSecret, scope,
// extension_<name>) or, since Kafka 4.1, in their own keys; or a token in
// a file (a file: token endpoint URL).
func (l *loader) propertiesOAuth(sec map[string]entry, get func(string) (string, loc, bool), j jaas, jat loc) *SASL {
	oa, ok := defaultOAuth(), true
	fail := func(at loc, format string, args ...any) {
		l.d.errorf(at, format, args...)
		ok = false
	}
	endpoint, eat, hasEndpoint := get(KeyOAuthTokenEndpoint)
	endpoint = strings.TrimSpace(endpoint)
	switch handler, hat, has := get(KeySASLLoginCallbackHandler); {
	case has && (handler == oauthLoginHandler || handler == oauthLoginHandlerSecured):
	case has && handler == strimziLoginHandler:
		fail(hat, "Strimzi's OAuth login handler is not supported: use Kafka's %s with %s", oauthLoginHandler, KeyOAuthTokenEndpoint)
	case has:
		fail(hat, "%q is not supported (%s)", handler, oauthLoginHandler)
	case hasEndpoint:
		l.d.warnf(hat, "MM2 reads %s only with %s=%s; kmirror reads it without", KeyOAuthTokenEndpoint, KeySASLLoginCallbackHandler, oauthLoginHandler)
	default:
		fail(hat, "required with OAUTHBEARER: %s and %s (Kafka's unsecured tokens are not supported)", oauthLoginHandler, KeyOAuthTokenEndpoint)
	}
	if !hasEndpoint {
		if ok {
			fail(eat, "required with OAUTHBEARER: the token endpoint (or a file: URL of a token)")
		}
		return nil
	}
	u, err := url.Parse(endpoint)
	switch {
	case err == nil && u.Scheme == "file" && u.Path != "":
		oa.AccessTokenFile = u.Path
	case err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
		oa.TokenEndpoint, oa.Grant = endpoint, GrantClientCredentials
	default:
		fail(eat, "%q is not an http, https or file URL", endpoint)
	}
	if retriever, rat, has := get(KeyOAuthJWTRetriever); has {
		switch retriever {
		case jwtRetrieverDefault:
		case jwtRetrieverClientCredentials:
			if oa.Given() && ok {
				fail(rat, "%s needs an http or https %s", retriever, KeyOAuthTokenEndpoint)
			}
		case jwtRetrieverFile:
			if !oa.Given() && ok {
				fail(rat, "%s needs a file: %s", retriever, KeyOAuthTokenEndpoint)
			}
		case jwtRetrieverJWTBearer:
			fail(rat, "the jwt-bearer grant (client assertions) is not supported by kmirror: use %s with a client secret", jwtRetrieverClientCredentials)
		default:
			fail(rat, "%q is not supported (%s, %s)", retriever, jwtRetrieverClientCredentials, jwtRetrieverFile)
		}
	}

	// The JAAS options, then the keys that replace them in Kafka 4.1.
	extensions := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(j.options)) {
		v := j.options[k]
		switch name, isExt := strings.CutPrefix(k, "extension_"); {
		case k == "clientId":
			oa.ClientID = v
		case k == "clientSecret":
			oa.ClientSecret = NewSecret(v)
		case k == "scope":
			oa.Scope = v
		case isExt && extensionName.MatchString(name) && name != "auth":
			extensions[name] = v
		case isExt:
			fail(jat, "option %s: %q cannot name a SASL extension (letters only, not auth)", k, name)
		case strings.HasPrefix(k, "unsecuredLogin"):
			fail(jat, "option %s: Kafka's unsecured tokens are not supported", k)
		default:
			l.d.warnf(jat, "option %s is unknown to %s, ignored", k, oauthLoginModule)
		}
	}
	if len(extensions) > 0 {
		oa.Extensions = extensions
	}
	if v, _, has := get(KeyOAuthClientID); has {
		oa.ClientID = v
	}
	if v, _, has := get(KeyOAuthClientSecret); has {
		oa.ClientSecret = NewSecret(v)
	}
	if v, _, has := get(KeyOAuthScope); has {
		oa.Scope = v
	}
	if !oa.Given() && (oa.ClientID == "" || oa.ClientSecret.IsZero()) {
		fail(jat, "needs the clientId and clientSecret options (or %s and %s)", KeyOAuthClientID, KeyOAuthClientSecret)
	}

	for _, k := range []struct {
		key string
		set func(string) error
	}{
		{KeySASLLoginConnectTimeout, func(v string) error { return setMillisAtLeast(&oa.ConnectTimeout, v, 1) }},
		{KeySASLLoginReadTimeout, func(v string) error { return setMillisAtLeast(&oa.ReadTimeout, v, 1) }},
		{KeyOAuthHeaderURLEncode, func(v string) error { return setBool(&oa.URLEncodeBasic, v) }},
		{KeyOAuthSubClaim, func(v string) error { oa.SubClaim = strings.TrimSpace(v); return nil }},
		{KeySASLLoginRefreshWindow, func(v string) error { return setFraction(&oa.RefreshWindow, v, 0.5, 1) }},
	} {
		if v, at, has := get(k.key); has {
			if err := k.set(v); err != nil {
				fail(at, "%v", err)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sec)) {
		e := sec[k]
		if why := oauthNoEffectKeys[k]; why != "" {
			l.d.notef(e.at, "accepted; no effect: %s", why)
		}
		if slices.Contains(oauthAssertionKeys, k) {
			l.d.warnf(e.at, "ignored: client assertions (Kafka's %s) are not supported", jwtRetrieverJWTBearer)
		}
	}
	if !ok {
		return nil
	}
	return &SASL{Mechanism: MechanismOAuthBearer, OAuth: oa}
}

// setFraction parses a number between lo and hi.
func setFraction(dst *float64, v string, lo, hi float64) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", v)
	}
	if f < lo || f > hi {
		return fmt.Errorf("%q must be between %g and %g", v, lo, hi)
	}
	*dst = f
	return nil
}
