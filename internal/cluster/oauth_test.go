package cluster

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/pki"
	"github.com/kmirror/kmirror/internal/testbed"
)

const (
	testSecret  = "s3cret-of-the-client"
	testRefresh = "refresh-t0ken-of-the-client"
)

// clientCredentials is an OAuth configuration as the loader makes it,
// for the client kmirror with testSecret at srv.
func clientCredentials(srv *testbed.OAuthServer) *config.OAuth {
	return &config.OAuth{TokenEndpoint: srv.TokenURL, Grant: config.GrantClientCredentials, ClientID: "kmirror",
		ClientSecret: config.NewSecret(testSecret), Scope: "kafka", ConnectTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second,
		AcceptHeader: true, JWT: true, RefreshWindow: 0.8, SubClaim: "sub"}
}

// clock is a time a test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func sourceAt(o *config.OAuth, c *clock) *tokenSource {
	s := newTokenSource(o)
	s.now = c.now
	return s
}

// A token is asked for once, with the client's id and secret as HTTP
// Basic and the scope and audience configured, and kept until its refresh
// window (80% of its lifetime, or of maxTokenExpirySeconds) has passed.
func TestTokenSourceCachesUntilRefresh(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		opts    testbed.OAuthOptions
		max     time.Duration
		jwt     bool
		refresh time.Duration // 0: every authentication asks anew
	}{
		{"expires_in", testbed.OAuthOptions{Lifetime: 100 * time.Second}, 0, true, 80 * time.Second},
		{"capped by maxTokenExpirySeconds", testbed.OAuthOptions{Lifetime: 100 * time.Second}, 10 * time.Second, true, 8 * time.Second},
		{"exp claim", testbed.OAuthOptions{Lifetime: 100 * time.Second, NoExpiresIn: true}, 0, true, 80 * time.Second},
		{"opaque, no lifetime", testbed.OAuthOptions{Lifetime: 100 * time.Second, NoExpiresIn: true}, 0, false, 0},
		{"opaque, maxTokenExpirySeconds", testbed.OAuthOptions{Lifetime: 100 * time.Second, NoExpiresIn: true}, 50 * time.Second, false, 40 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Audience = "kafka-brokers"
			srv := testbed.StartOAuth(t, tt.opts)
			srv.AddClient("kmirror", testSecret)
			o := clientCredentials(srv)
			o.Audience, o.MaxTokenExpiry, o.JWT = "kafka-brokers", tt.max, tt.jwt
			c := &clock{t: time.Now()}
			s := sourceAt(o, c)
			first, err := s.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if sub, _, err := srv.Verify(first); err != nil || sub != "kmirror" {
				t.Fatalf("the token (sub %q) does not verify: %v", sub, err)
			}
			want := []testbed.TokenRequest{{Grant: "client_credentials", ClientID: "kmirror", Scope: "kafka", Audience: "kafka-brokers", Basic: true, Status: 200}}
			if got := srv.Requests(); !slices.Equal(got, want) {
				t.Fatalf("requests %+v, want %+v", got, want)
			}
			if tt.refresh > 0 {
				c.t = c.t.Add(tt.refresh - time.Second)
				if again, err := s.Token(ctx); err != nil || again != first || srv.Issued() != 1 {
					t.Fatalf("before the refresh window: issued %d, same token %v, err %v", srv.Issued(), again == first, err)
				}
				c.t = c.t.Add(2 * time.Second)
			}
			if _, err := s.Token(ctx); err != nil || srv.Issued() != 2 {
				t.Fatalf("after the refresh window: issued %d, want 2 (%v)", srv.Issued(), err)
			}
		})
	}
}

// The other grants: a refresh token (rotated when the server sends a new
// one it does not here), and a user's password, each of a public client.
func TestTokenSourceGrants(t *testing.T) {
	srv := testbed.StartOAuth(t, testbed.OAuthOptions{})
	srv.AddRefreshToken(testRefresh, "public-client")
	srv.AddUser("mirror", "user-passw0rd")
	base := clientCredentials(srv)
	refresh := *base
	refresh.Grant, refresh.ClientID, refresh.ClientSecret, refresh.RefreshToken = config.GrantRefreshToken, "public-client", config.Secret{}, config.NewSecret(testRefresh)
	password := *base
	password.Grant, password.ClientID, password.ClientSecret = config.GrantPassword, "", config.Secret{}
	password.Username, password.Password = "mirror", config.NewSecret("user-passw0rd")
	for _, o := range []*config.OAuth{&refresh, &password} {
		token, err := newTokenSource(o).Token(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", o.Grant, err)
		}
		if _, _, err := srv.Verify(token); err != nil {
			t.Errorf("%s: %v", o.Grant, err)
		}
	}
	want := []testbed.TokenRequest{
		{Grant: "refresh_token", ClientID: "public-client", Scope: "kafka", Status: 200},
		{Grant: "password", Scope: "kafka", Status: 200},
	}
	if got := srv.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests %+v, want %+v", got, want)
	}
}

// Refused credentials and unreachable endpoints are one error that names
// the cluster, the endpoint and what to check, and never a secret.
func TestTokenErrors(t *testing.T) {
	srv := testbed.StartOAuth(t, testbed.OAuthOptions{})
	srv.AddClient("kmirror", "the-right-secret")
	wrong := clientCredentials(srv)
	badRefresh := clientCredentials(srv)
	badRefresh.Grant, badRefresh.ClientSecret, badRefresh.RefreshToken = config.GrantRefreshToken, config.NewSecret("the-right-secret"), config.NewSecret(testRefresh)
	down := clientCredentials(srv)
	down.TokenEndpoint = "http://127.0.0.1:1/token"
	for _, tt := range []struct {
		name string
		o    *config.OAuth
		want string
	}{
		{"wrong secret", wrong, `cluster "my-cluster": cannot get an OAuth token for client "kmirror": the token endpoint refused its credentials (check clientId and clientSecret): token endpoint ` + srv.TokenURL + `: 401 Unauthorized: invalid_client: the credentials are not valid`},
		{"refresh token refused", badRefresh, `cluster "my-cluster": cannot get an OAuth token for client "kmirror": the token endpoint refused the client or its refresh token (check clientId, clientSecret and refreshToken): token endpoint ` + srv.TokenURL + `: 400 Bad Request: invalid_grant: the credentials are not valid`},
		{"endpoint down", down, `cluster "my-cluster": cannot get an OAuth token: the token endpoint did not answer: token endpoint http://127.0.0.1:1/token: dial tcp 127.0.0.1:1: connect: connection refused`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newTokenSource(tt.o).Token(context.Background())
			c := &config.Cluster{Alias: "my-cluster", SASL: &config.SASL{Mechanism: config.MechanismOAuthBearer, OAuth: tt.o}}
			msg := Explain(c, err).Error()
			if msg != tt.want {
				t.Errorf("error\n%s\nwant\n%s", msg, tt.want)
			}
			if strings.Contains(msg, testSecret) || strings.Contains(msg, testRefresh) {
				t.Errorf("the error shows a secret: %s", msg)
			}
		})
	}
}

// httpRetries: a 503 is asked again, a refusal is not; while the endpoint
// fails, a token that has not expired still serves.
func TestTokenRetries(t *testing.T) {
	ctx := context.Background()
	srv := testbed.StartOAuth(t, testbed.OAuthOptions{Lifetime: 100 * time.Second})
	srv.AddClient("kmirror", testSecret)
	o := clientCredentials(srv)
	o.Retries, o.RetryPause = 2, time.Millisecond
	srv.FailNext(2)
	c := &clock{t: time.Now()}
	s := sourceAt(o, c)
	if _, err := s.Token(ctx); err != nil || srv.Issued() != 1 || len(srv.Requests()) != 3 {
		t.Fatalf("two 503s, two retries: %v, %d requests", err, len(srv.Requests()))
	}
	srv.FailNext(3)
	c.t = c.t.Add(90 * time.Second) // past the refresh window, not the expiry
	if _, err := s.Token(ctx); err != nil {
		t.Fatalf("the unexpired token did not serve: %v", err)
	}
	c.t = c.t.Add(20 * time.Second) // expired
	srv.FailNext(3)
	var te *TokenError
	if _, err := s.Token(ctx); !errors.As(err, &te) || te.Status != http.StatusServiceUnavailable {
		t.Fatalf("expired, endpoint failing: %v", err)
	}
}

// The token endpoint over https: trusted by tlsTrustedCertificates, its
// name verified unless disableTlsHostnameVerification; a read timeout
// ends a request the server does not answer.
func TestTokenEndpointTLSAndTimeouts(t *testing.T) {
	ca, err := pki.NewCA("sso-ca")
	if err != nil {
		t.Fatal(err)
	}
	// The certificate names localhost; the URL says 127.0.0.1.
	srv := testbed.StartOAuth(t, testbed.OAuthOptions{CA: ca, Hosts: []string{"localhost"}})
	srv.AddClient("kmirror", testSecret)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, tt := range []struct {
		name string
		tls  *config.TLS
		want string
	}{
		{"system roots", nil, "tls: failed to verify certificate"},
		{"trusted, name checked", &config.TLS{RootCAs: pool}, "cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"},
		{"trusted, name not checked", &config.TLS{RootCAs: pool, SkipHostnameVerification: true}, ""},
		{"name not checked, untrusted", &config.TLS{SkipHostnameVerification: true}, "certificate signed by unknown authority"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := clientCredentials(srv)
			o.TLS = tt.tls
			_, err := newTokenSource(o).Token(context.Background())
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}

	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stop }))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(stop) })
	o := clientCredentials(srv)
	o.TokenEndpoint, o.ReadTimeout = hang.URL, 100*time.Millisecond
	began := time.Now()
	_, err = newTokenSource(o).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timeout") || time.Since(began) > 10*time.Second {
		t.Errorf("a server that does not answer: %v after %s", err, time.Since(began))
	}
}

// A token given is used as it is; one in a file is read at each
// authentication, so that a rotated token is followed.
func TestGivenTokens(t *testing.T) {
	ctx := context.Background()
	if tok, err := newTokenSource(&config.OAuth{AccessToken: config.NewSecret("given")}).Token(ctx); err != nil || tok != "given" {
		t.Errorf("given token: %q %v", tok, err)
	}
	path := filepath.Join(t.TempDir(), "token")
	s := newTokenSource(&config.OAuth{AccessTokenFile: path})
	c := &config.Cluster{Alias: "my-cluster", SASL: &config.SASL{Mechanism: config.MechanismOAuthBearer, OAuth: s.o}}
	if _, err := s.Token(ctx); err == nil || !strings.HasPrefix(Explain(c, err).Error(), `cluster "my-cluster": cannot read the OAuth access token: no OAuth access token: open `) {
		t.Errorf("no file: %v", Explain(c, err))
	}
	for _, want := range []string{"first", "second"} {
		if err := os.WriteFile(path, []byte(want+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if tok, err := s.Token(ctx); err != nil || tok != want {
			t.Errorf("token file: %q %v, want %q", tok, err, want)
		}
	}
}

// On kfake, made to take OAUTHBEARER, Check authenticates with a token
// from the test's endpoint and names the principal, and a token the
// broker refuses (another audience) is one error naming the cluster; a
// broker without OAUTHBEARER says so. Kafka's own validator is the judge
// in cmd/kmirror's TestOAuth.
func TestCheckOAuthOnKfake(t *testing.T) {
	srv := testbed.StartOAuth(t, testbed.OAuthOptions{Audience: "kafka"})
	srv.AddClient("kmirror", testSecret)
	broker := testbed.NewCluster(t)
	srv.ServeOAuthBearer(broker, 0)
	plain := testbed.NewCluster(t)
	other := clientCredentials(srv)
	other.Audience = "another-cluster"
	for _, tt := range []struct {
		name   string
		addr   string
		o      *config.OAuth
		reason string
	}{
		{"token accepted", broker.Addr, clientCredentials(srv), ""},
		{"token refused", broker.Addr, other, `cluster "my-cluster": authentication failed (OAUTHBEARER with a token for client "kmirror" from ` + srv.TokenURL + `): the brokers refused the token`},
		{"broker without OAUTHBEARER", plain.Addr, clientCredentials(srv), `cluster "my-cluster": the brokers do not offer SASL mechanism OAUTHBEARER`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &config.Cluster{Alias: "my-cluster", ClientID: "kmirror-test", Bootstrap: []string{tt.addr},
				SASL: &config.SASL{Mechanism: config.MechanismOAuthBearer, OAuth: tt.o}}
			_, err := Check(context.Background(), c, Connect{Timeout: 5 * time.Second})
			if tt.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p, err := Principal(context.Background(), c); err != nil || p != "User:kmirror" {
					t.Errorf("principal %q, %v", p, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.reason) || strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %v\nwant it to begin %q", err, tt.reason)
			}
		})
	}
}

// Every client of a cluster shares its token; a broker that ends sessions
// makes them authenticate again, and past the refresh window of the
// token, a new one is asked for while the clients keep working.
func TestClientsShareAndRefreshTokens(t *testing.T) {
	srv := testbed.StartOAuth(t, testbed.OAuthOptions{Audience: "kafka", Lifetime: 2 * time.Second})
	srv.AddClient("kmirror", testSecret)
	broker := testbed.NewCluster(t)
	srv.ServeOAuthBearer(broker, 300*time.Millisecond)
	c := &config.Cluster{Alias: "my-cluster", ClientID: "kmirror-test", Bootstrap: []string{broker.Addr},
		SASL: &config.SASL{Mechanism: config.MechanismOAuthBearer, OAuth: clientCredentials(srv)}}
	var clients []*kgo.Client
	for range 3 {
		cl, err := kgo.NewClient(Options(c, nil)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		clients = append(clients, cl)
	}
	ask := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, cl := range clients {
			if err := cl.Ping(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	if err := ask(); err != nil {
		t.Fatal(err)
	}
	if n := srv.Issued(); n != 1 {
		t.Fatalf("3 clients asked for %d tokens, want 1", n)
	}
	testbed.WaitUntil(t, 20*time.Second, "a second token, the clients working", func() error {
		if err := ask(); err != nil {
			return err
		}
		if n := srv.Issued(); n < 2 {
			return fmt.Errorf("%d tokens issued", n)
		}
		return nil
	})
}
