package testbed

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/pki"
)

// OAuthOptions shape an OAuthServer.
type OAuthOptions struct {
	// Audience is the tokens' aud claim; "" leaves it out, unless the
	// client asks for one.
	Audience string
	// Issuer is the tokens' iss claim (default "kmirror-test").
	Issuer string
	// Lifetime is how long a token lives (default an hour).
	Lifetime time.Duration
	// NoExpiresIn leaves expires_in out of the answers: only the token's
	// exp claim says when it expires.
	NoExpiresIn bool
	// CA, when given, serves https with a certificate it signs for Hosts
	// (default 127.0.0.1).
	CA    *pki.CA
	Hosts []string
}

// OAuthServer is an OAuth 2.0 authorization server that a test runs: its
// token endpoint (TokenURL) grants client credentials, refresh tokens and
// passwords as RS256 JWTs (sub, iat, exp, iss, scope, aud), and JWKSURL
// serves the key that verifies them, as Keycloak or any OIDC provider
// does for Kafka's OAuthBearerValidatorCallbackHandler.
type OAuthServer struct {
	TokenURL, JWKSURL string

	opts OAuthOptions
	key  *rsa.PrivateKey
	kid  string

	mu       sync.Mutex
	clients  map[string]string // id → secret
	refresh  map[string]string // refresh token → client id
	users    map[string]string // name → password
	fail     int               // the next token requests answered 503
	requests []TokenRequest
}

// TokenRequest is a token request the server answered, for a test to
// check what its client sent.
type TokenRequest struct {
	Grant, ClientID, Scope, Audience string
	// Basic says the client authenticated with HTTP Basic.
	Basic bool
	// Status is the HTTP status of the answer.
	Status int
}

// StartOAuth starts an OAuthServer that stops with the test.
func StartOAuth(t testing.TB, opts OAuthOptions) *OAuthServer {
	t.Helper()
	if opts.Issuer == "" {
		opts.Issuer = "kmirror-test"
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = time.Hour
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &OAuthServer{opts: opts, key: key, kid: "kmirror-test-key",
		clients: map[string]string{}, refresh: map[string]string{}, users: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.serveToken)
	mux.HandleFunc("GET /jwks", s.serveJWKS)
	srv := httptest.NewUnstartedServer(mux)
	// A client that refuses the certificate is what some tests check.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.CA != nil {
		hosts := opts.Hosts
		if len(hosts) == 0 {
			hosts = []string{"127.0.0.1"}
		}
		pair, err := opts.CA.Issue("oauth-server", hosts...)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair.TLS}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	s.TokenURL, s.JWKSURL = srv.URL+"/token", srv.URL+"/jwks"
	return s
}

// AddClient lets a confidential client have tokens for its id and secret.
func (s *OAuthServer) AddClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
}

// AddRefreshToken lets the client clientID exchange token for tokens; a
// public client (not added) authenticates by its id alone.
func (s *OAuthServer) AddRefreshToken(token, clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh[token] = clientID
}

// AddUser lets a user have tokens for its password (the password grant).
func (s *OAuthServer) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = password
}

// FailNext answers the next n token requests 503 Service Unavailable.
func (s *OAuthServer) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// Requests returns the token requests answered so far.
func (s *OAuthServer) Requests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Issued is the number of tokens the server gave.
func (s *OAuthServer) Issued() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

func (s *OAuthServer) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := TokenRequest{Grant: r.PostForm.Get("grant_type"), Scope: r.PostForm.Get("scope"), Audience: r.PostForm.Get("audience")}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1 form-encodes them; Kafka and Strimzi do not.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id = r.PostForm.Get("client_id")
	}
	req.ClientID, req.Basic = id, basic
	status, answer := s.grant(req, secret, r.PostForm)
	req.Status = status
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer)
}

// grant decides a token request: the status and the JSON answer.
func (s *OAuthServer) grant(req TokenRequest, secret string, form url.Values) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return http.StatusServiceUnavailable, map[string]any{"error": "temporarily_unavailable"}
	}
	refused := func(code string) (int, map[string]any) {
		status := http.StatusBadRequest
		if code == "invalid_client" {
			status = http.StatusUnauthorized
		}
		return status, map[string]any{"error": code, "error_description": "the credentials are not valid"}
	}
	known, confidential := s.clients[req.ClientID]
	if confidential && known != secret || !confidential && secret != "" {
		return refused("invalid_client")
	}
	var sub string
	switch req.Grant {
	case "client_credentials":
		if !confidential {
			return refused("invalid_client")
		}
		sub = req.ClientID
	case "refresh_token":
		owner, ok := s.refresh[form.Get("refresh_token")]
		if !ok || owner != req.ClientID {
			return refused("invalid_grant")
		}
		sub = req.ClientID
	case "password":
		user := form.Get("username")
		if pw, ok := s.users[user]; !ok || pw != form.Get("password") {
			return refused("invalid_grant")
		}
		sub = user
	default:
		return http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"}
	}
	token, err := s.Token(sub, req.Scope, req.Audience, s.opts.Lifetime)
	if err != nil {
		return http.StatusInternalServerError, map[string]any{"error": "server_error", "error_description": err.Error()}
	}
	answer := map[string]any{"access_token": token, "token_type": "Bearer"}
	if !s.opts.NoExpiresIn {
		answer["expires_in"] = int(s.opts.Lifetime / time.Second)
	}
	return http.StatusOK, answer
}

// Token signs a token for sub that lives for lifetime; audience "" takes
// the server's.
func (s *OAuthServer) Token(sub, scope, audience string, lifetime time.Duration) (string, error) {
	now := time.Now()
	claims := map[string]any{"sub": sub, "iss": s.opts.Issuer, "iat": now.Unix(), "exp": now.Add(lifetime).Unix(),
		"jti": fmt.Sprintf("%x", now.UnixNano())}
	if scope != "" {
		claims["scope"] = scope
	}
	if audience == "" {
		audience = s.opts.Audience
	}
	if audience != "" {
		claims["aud"] = audience
	}
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signed + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *OAuthServer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	pub := s.key.PublicKey
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": s.kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// Verify checks a token as a broker does: signed by the server's key,
// not expired, for the server's audience when it has one. It returns the
// sub claim and when the token expires.
func (s *OAuthServer) Verify(token string) (sub string, exp time.Time, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", exp, errors.New("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", exp, fmt.Errorf("signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return "", exp, fmt.Errorf("signature: %w", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", exp, err
	}
	var c struct {
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
		Aud any    `json:"aud"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", exp, err
	}
	exp = time.Unix(c.Exp, 0)
	switch {
	case c.Sub == "":
		return "", exp, errors.New("no sub claim")
	case time.Now().After(exp):
		return "", exp, errors.New("expired")
	case s.opts.Audience != "" && c.Aud != s.opts.Audience:
		return "", exp, fmt.Errorf("audience %v, not %s", c.Aud, s.opts.Audience)
	}
	return c.Sub, exp, nil
}

// ServeOAuthBearer makes a kfake cluster take SASL/OAUTHBEARER, whose
// tokens it checks with Verify, as Kafka's
// OAuthBearerValidatorCallbackHandler does: kfake itself speaks PLAIN and
// SCRAM only. A session lasts until the token expires, or reauth at most
// (0: no limit), as with Kafka's connections.max.reauth.ms, so that the
// client authenticates again, with a new token once its own has aged.
func (s *OAuthServer) ServeOAuthBearer(c *Cluster, reauth time.Duration) {
	c.ControlKey(int16(kmsg.SASLHandshake), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.SASLHandshakeRequest)
		resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{"OAUTHBEARER"}
		if req.Mechanism != "OAUTHBEARER" {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.SASLAuthenticateRequest)
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		token, ok := bearer(req.SASLAuthBytes)
		if !ok {
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			resp.ErrorMessage = kmsg.StringPtr("not an OAUTHBEARER client response")
			return resp, nil, true
		}
		_, exp, err := s.Verify(token)
		if err != nil {
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			resp.ErrorMessage = kmsg.StringPtr("invalid token: " + err.Error())
			return resp, nil, true
		}
		lifetime := time.Until(exp)
		if reauth > 0 {
			lifetime = min(lifetime, reauth)
		}
		resp.SessionLifetimeMillis = lifetime.Milliseconds()
		return resp, nil, true
	})
}

// bearer reads the token of an OAUTHBEARER client response (RFC 7628
// section 3.1): "n,,\x01auth=Bearer <token>\x01...\x01".
func bearer(msg []byte) (string, bool) {
	for _, kv := range bytes.Split(msg, []byte{1}) {
		if v, ok := bytes.CutPrefix(kv, []byte("auth=Bearer ")); ok && len(v) > 0 {
			return string(v), true
		}
	}
	return "", false
}
