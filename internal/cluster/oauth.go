package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/kmirror/kmirror/internal/config"
)

// tokenSources holds one token source per OAuth configuration, so that
// the clients of a cluster (several per flow) share its token and ask for
// a new one once. A loaded configuration lives as long as the process,
// and so does its source.
var tokenSources struct {
	sync.Mutex
	m map[*config.OAuth]*tokenSource
}

// sourceFor returns the token source of o, made at the first call.
func sourceFor(o *config.OAuth) *tokenSource {
	tokenSources.Lock()
	defer tokenSources.Unlock()
	if s := tokenSources.m[o]; s != nil {
		return s
	}
	if tokenSources.m == nil {
		tokenSources.m = map[*config.OAuth]*tokenSource{}
	}
	s := newTokenSource(o)
	tokenSources.m[o] = s
	return s
}

// oauthMechanism is OAUTHBEARER with the tokens of o; franz-go asks for
// one at each authentication (each connection, each reauthentication).
func oauthMechanism(o *config.OAuth) sasl.Mechanism {
	s := sourceFor(o)
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		token, err := s.Token(ctx)
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: token, Extensions: o.Extensions}, nil
	})
}

// errNoToken is an access token file that gave none.
var errNoToken = errors.New("no OAuth access token")

// tokenSource gets the access tokens of one OAuth configuration: a token
// given, read from a file, or asked of the token endpoint and kept until
// its refresh window has passed.
type tokenSource struct {
	o    *config.OAuth
	http *http.Client
	now  func() time.Time

	// sem is held while the cached token is read or a new one asked
	// for, so that concurrent authentications wait for one request.
	sem       chan struct{}
	token     string
	refreshAt time.Time // from then on, the next authentication asks anew
	expiresAt time.Time // zero when the lifetime is unknown
	// refresh is the refresh token, once the server has rotated it.
	refresh config.Secret
}

func newTokenSource(o *config.OAuth) *tokenSource {
	dialer := &net.Dialer{Timeout: o.ConnectTimeout}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ReadTimeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   1,
	}
	if o.TLS != nil {
		tr.TLSClientConfig = TLSConfig(o.TLS)
	}
	client := &http.Client{
		Transport: tr,
		Timeout:   o.ConnectTimeout + o.ReadTimeout,
		// The credentials go to the endpoint configured, nowhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &tokenSource{o: o, http: client, now: time.Now, sem: make(chan struct{}, 1), refresh: o.RefreshToken}
}

// Token returns a token to authenticate with.
func (s *tokenSource) Token(ctx context.Context) (string, error) {
	switch {
	case !s.o.AccessToken.IsZero():
		return s.o.AccessToken.Reveal(), nil
	case s.o.AccessTokenFile != "":
		data, err := os.ReadFile(s.o.AccessTokenFile)
		if err != nil {
			return "", fmt.Errorf("%w: %w", errNoToken, err)
		}
		token := strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("%w: %s is empty", errNoToken, s.o.AccessTokenFile)
		}
		return token, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()
	now := s.now()
	if s.token != "" && now.Before(s.refreshAt) {
		return s.token, nil
	}
	token, lifetime, err := s.ask(ctx)
	if err != nil {
		// A token that has not expired yet still serves while the
		// endpoint fails; the next authentication asks again.
		if s.token != "" && now.Before(s.expiresAt) {
			return s.token, nil
		}
		return "", err
	}
	if lifetime <= 0 && s.o.JWT {
		if exp, ok := expiry(token); ok {
			lifetime = exp.Sub(now)
		}
	}
	if m := s.o.MaxTokenExpiry; m > 0 && (lifetime <= 0 || lifetime > m) {
		lifetime = m
	}
	s.token, s.refreshAt, s.expiresAt = token, now, time.Time{}
	if lifetime > 0 {
		// Of a token whose lifetime is unknown, each authentication
		// asks for a new one.
		s.refreshAt = now.Add(time.Duration(float64(lifetime) * s.o.RefreshWindow))
		s.expiresAt = now.Add(lifetime)
	}
	return token, nil
}

// ask asks the token endpoint for a token, again after an error that got
// no answer, as many times as configured.
func (s *tokenSource) ask(ctx context.Context) (string, time.Duration, error) {
	for attempt := 0; ; attempt++ {
		token, lifetime, err := s.post(ctx)
		var te *TokenError
		if err == nil || attempt >= s.o.Retries || !errors.As(err, &te) || !te.retriable() || ctx.Err() != nil {
			return token, lifetime, err
		}
		select {
		case <-time.After(s.o.RetryPause):
		case <-ctx.Done():
			return "", 0, err
		}
	}
}

// tokenAnswer is a token endpoint's answer (RFC 6749 sections 5.1, 5.2).
type tokenAnswer struct {
	AccessToken  string      `json:"access_token"`
	ExpiresIn    json.Number `json:"expires_in"`
	RefreshToken string      `json:"refresh_token"`
	Error        string      `json:"error"`
	Description  string      `json:"error_description"`
}

// post makes one token request with the configured grant.
func (s *tokenSource) post(ctx context.Context) (string, time.Duration, error) {
	o := s.o
	form := url.Values{"grant_type": {o.Grant}}
	switch o.Grant {
	case config.GrantRefreshToken:
		form.Set("refresh_token", s.refresh.Reveal())
	case config.GrantPassword:
		form.Set("username", o.Username)
		form.Set("password", o.Password.Reveal())
	}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	if o.Audience != "" {
		form.Set("audience", o.Audience)
	}
	// A confidential client authenticates with HTTP Basic, as Kafka's
	// and Strimzi's clients do; a public one names itself in the form.
	if o.ClientSecret.IsZero() && o.ClientID != "" {
		form.Set("client_id", o.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, s.fail(0, "", "", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.AcceptHeader {
		req.Header.Set("Accept", "application/json")
	}
	if !o.ClientSecret.IsZero() {
		id, secret := o.ClientID, o.ClientSecret.Reveal()
		if o.URLEncodeBasic {
			id, secret = url.QueryEscape(id), url.QueryEscape(secret)
		}
		req.SetBasicAuth(id, secret)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is named once, by TokenError
		}
		return "", 0, s.fail(0, "", "", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, s.fail(resp.StatusCode, "", "", fmt.Errorf("read the answer: %w", err))
	}
	var a tokenAnswer
	jsonErr := json.Unmarshal(body, &a)
	if resp.StatusCode/100 != 2 {
		if jsonErr != nil || a.Error == "" {
			// Not RFC 6749's error: its first line says what it is.
			a.Description, _, _ = strings.Cut(strings.TrimSpace(string(body)), "\n")
		}
		return "", 0, s.fail(resp.StatusCode, a.Error, a.Description, nil)
	}
	switch {
	case jsonErr != nil:
		return "", 0, s.fail(resp.StatusCode, "", "", fmt.Errorf("the answer is not a token: %v", jsonErr))
	case a.AccessToken == "":
		return "", 0, s.fail(resp.StatusCode, "", "", errors.New("the answer holds no access_token"))
	}
	if a.RefreshToken != "" && o.Grant == config.GrantRefreshToken {
		s.refresh = config.NewSecret(a.RefreshToken)
	}
	var lifetime time.Duration
	if n, err := strconv.ParseFloat(a.ExpiresIn.String(), 64); err == nil && n > 0 {
		lifetime = time.Duration(n * float64(time.Second))
	}
	return a.AccessToken, lifetime, nil
}

// fail makes the TokenError of a request, with every secret of the
// configuration cut out of what the server said.
func (s *tokenSource) fail(status int, code, description string, err error) *TokenError {
	for _, secret := range []config.Secret{s.o.ClientSecret, s.refresh, s.o.RefreshToken, s.o.Password} {
		if !secret.IsZero() {
			description = strings.ReplaceAll(description, secret.Reveal(), config.Redacted)
			code = strings.ReplaceAll(code, secret.Reveal(), config.Redacted)
		}
	}
	const most = 200
	if len(description) > most {
		description = description[:most] + "…"
	}
	return &TokenError{Endpoint: s.o.Endpoint(), Status: status, Code: code, Description: description, Err: err}
}

// TokenError is an access token the token endpoint did not give.
type TokenError struct {
	Endpoint string
	// Status is the HTTP status of the answer; 0 without one.
	Status int
	// Code and Description are the server's error and error_description
	// (RFC 6749 section 5.2), or the first line of what it said.
	Code, Description string
	// Err is what went wrong on the client's side, if anything.
	Err error
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "token endpoint %s", e.Endpoint)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	for _, s := range []string{e.Code, e.Description} {
		if s != "" {
			b.WriteString(": " + s)
		}
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *TokenError) Unwrap() error { return e.Err }

// retriable: the server did not answer, or answered that it cannot now.
func (e *TokenError) retriable() bool {
	return (e.Status == 0 && e.Err != nil) || e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// refused reports whether the server refused the credentials.
func (e *TokenError) refused() bool {
	switch e.Code {
	case "invalid_client", "unauthorized_client", "invalid_grant":
		return true
	}
	return e.Status == http.StatusUnauthorized
}

// claims returns the claims of a JWT, unverified: the brokers verify it.
func claims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("the token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("the token is not a JWT: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("the token is not a JWT: %w", err)
	}
	return c, nil
}

// expiry is the exp claim of a JWT.
func expiry(token string) (time.Time, bool) {
	c, err := claims(token)
	if err != nil {
		return time.Time{}, false
	}
	exp, ok := c["exp"].(float64)
	if !ok || exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(exp*float64(time.Second))), true
}

// Principal is who the brokers see when c authenticates with OAuth: the
// user named by the claim SubClaim of its token, "User:<sub>" (Kafka's
// default principal builder). It gets a token if none is held.
func Principal(ctx context.Context, c *config.Cluster) (string, error) {
	o := c.SASL.OAuth
	token, err := sourceFor(o).Token(ctx)
	if err != nil {
		return "", err
	}
	cl, err := claims(token)
	if err != nil {
		return "", err
	}
	sub, ok := cl[o.SubClaim].(string)
	if !ok || sub == "" {
		return "", fmt.Errorf("the token has no %q claim", o.SubClaim)
	}
	return "User:" + sub, nil
}

// describeOAuth says where the tokens of o come from, for messages.
func describeOAuth(o *config.OAuth) string {
	switch {
	case !o.AccessToken.IsZero():
		return "a token given"
	case o.AccessTokenFile != "":
		return "the token in " + o.AccessTokenFile
	case o.Grant == config.GrantPassword:
		return fmt.Sprintf("a token for user %q from %s", o.Username, o.Endpoint())
	}
	return fmt.Sprintf("a token for client %q from %s", o.ClientID, o.Endpoint())
}
