package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/config"
)

// Info is what a successful check learnt about a cluster.
type Info struct {
	ClusterID  string
	Brokers    int
	Controller int32
}

// Error is a cluster that could not be reached or authenticated against.
type Error struct {
	Alias string
	// Reason is one sentence for the operator; Err the cause.
	Reason string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("cluster %q: %s: %v", e.Alias, e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// DefaultConnectTimeout bounds the first connection to a cluster unless a
// command is told otherwise (--connect-timeout): what it waits before it
// says a cluster cannot be reached.
const DefaultConnectTimeout = 30 * time.Second

// StillWaitingAfter is how long a check waits for a cluster before it says
// that it still waits, so that a broker that accepts connections but does
// not answer is not a silence as long as the timeout.
const StillWaitingAfter = 3 * time.Second

// Connect is how a command checks the clusters before it uses them.
type Connect struct {
	// Timeout bounds each cluster's check; 0 is DefaultConnectTimeout.
	Timeout time.Duration
	// Log, when set, hears of each cluster still not answering after
	// StillWaitingAfter. The check's own client stays quiet: what went
	// wrong is the error it returns.
	Log *slog.Logger
}

func (o Connect) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultConnectTimeout
}

// Check connects to a cluster, authenticates, and reads its metadata,
// within o's timeout.
func Check(ctx context.Context, c *config.Cluster, o Connect) (Info, error) {
	timeout := o.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if o.Log != nil {
		addrs := strings.Join(c.Bootstrap, ", ")
		still := time.AfterFunc(StillWaitingAfter, func() {
			o.Log.Warn(fmt.Sprintf("still waiting for %s at %s", c.Alias, addrs), "cluster", c.Alias, "address", addrs, "timeout", timeout)
		})
		defer still.Stop()
	}
	var watch AuthWatch
	cl, err := kgo.NewClient(append(Options(c, nil), kgo.RetryTimeout(timeout), kgo.WithHooks(&watch))...)
	if err != nil {
		return Info{}, &Error{Alias: c.Alias, Reason: "invalid client settings", Err: err}
	}
	defer cl.Close()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		if watch.Failed() {
			return Info{}, &Error{Alias: c.Alias, Err: err, Reason: authReason(c)}
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && tcpReachable(c.Bootstrap) {
			if c.TLS != nil {
				return Info{}, &Error{Alias: c.Alias, Err: err,
					Reason: "connected, but no TLS handshake completed: is this a plaintext listener? (remove tls, or use its TLS listener)"}
			}
			return Info{}, &Error{Alias: c.Alias, Err: err,
				Reason: fmt.Sprintf("connected to %s, but no answer came within %s: is it a Kafka listener, and is its broker up?", strings.Join(c.Bootstrap, ", "), timeout)}
		}
		return Info{}, Explain(c, err)
	}
	return Info{ClusterID: m.Cluster, Brokers: len(m.Brokers), Controller: m.Controller}, nil
}

// AuthWatch is a franz-go hook that notices a broker ending the connection
// in answer to SASL authentication, which is how some brokers (and kfake)
// reject a wrong password.
type AuthWatch struct{ failed atomic.Bool }

// OnBrokerRead implements kgo.HookBrokerRead.
func (w *AuthWatch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && key == int16(kmsg.SASLAuthenticate) {
		w.failed.Store(true)
	}
}

// Failed reports whether SASL authentication was refused.
func (w *AuthWatch) Failed() bool { return w.failed.Load() }

func authReason(c *config.Cluster) string {
	if o := c.SASL.OAuth; o != nil {
		return fmt.Sprintf("authentication failed (OAUTHBEARER with %s): the brokers refused the token: check its audience, issuer, subject and signing key against the brokers' OAuth settings", describeOAuth(o))
	}
	return fmt.Sprintf("authentication failed (%s as user %q): check the username and password", c.SASL.Mechanism, c.SASL.Username)
}

// tcpReachable tells a listener that accepts connections from none at all.
func tcpReachable(addrs []string) bool {
	for _, a := range addrs {
		conn, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err == nil {
			conn.Close()
			return true
		}
	}
	return false
}

// Explain turns a client error into an Error that says what is wrong with
// the connection to c in the operator's terms.
func Explain(c *config.Cluster, err error) error {
	e := &Error{Alias: c.Alias, Err: err}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var recordHeader tls.RecordHeaderError
	var netErr *net.OpError
	var tokenErr *TokenError
	switch {
	case c.SASL != nil && c.SASL.OAuth != nil && errors.As(err, &tokenErr):
		e.Reason = tokenReason(c.SASL.OAuth, tokenErr)
	case errors.Is(err, errNoToken):
		e.Reason = "cannot read the OAuth access token"
	case c.SASL != nil && (errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState)):
		e.Reason = authReason(c)
	case c.SASL == nil && strings.Contains(err.Error(), "SASL is required"):
		e.Reason = "the broker closed the connection: does this listener need SASL?"
	case c.SASL != nil && errors.Is(err, kerr.UnsupportedSaslMechanism):
		e.Reason = fmt.Sprintf("the brokers do not offer SASL mechanism %s", c.SASL.Mechanism)
	case errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed):
		e.Reason = "authorization failed"
	case errors.As(err, &unknownCA):
		e.Reason = "the broker's certificate is not signed by a trusted CA (check the trusted certificates)"
	case errors.As(err, &hostname):
		e.Reason = "the broker's certificate does not match its address (set the server name, or ssl.endpoint.identification.algorithm to empty)"
	case errors.As(err, &recordHeader) || strings.Contains(err.Error(), "first record does not look like a TLS handshake"):
		e.Reason = "the broker does not speak TLS on this port (remove tls, or use its TLS listener)"
	case strings.Contains(err.Error(), "certificate required"), strings.Contains(err.Error(), "bad certificate"):
		e.Reason = "the broker rejected the client certificate (mutual TLS)"
	case isEOF(err) && c.TLS == nil:
		e.Reason = "the broker closed the connection: does this listener need TLS or SASL?"
	case isEOF(err) && c.SASL == nil:
		e.Reason = "the broker closed the connection: does this listener need SASL?"
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		e.Reason = fmt.Sprintf("cannot reach %s", strings.Join(c.Bootstrap, ", "))
	default:
		e.Reason = "cannot connect"
	}
	return e
}

// tokenReason says why no OAuth token came, and what to check.
func tokenReason(o *config.OAuth, e *TokenError) string {
	switch {
	case e.Status == 0:
		return "cannot get an OAuth token: the token endpoint did not answer"
	case !e.refused():
		return "cannot get an OAuth token: the token endpoint refused the request"
	case o.Grant == config.GrantRefreshToken:
		return fmt.Sprintf("cannot get an OAuth token for client %q: the token endpoint refused the client or its refresh token (check clientId, clientSecret and refreshToken)", o.ClientID)
	case o.Grant == config.GrantPassword:
		return fmt.Sprintf("cannot get an OAuth token for user %q: the token endpoint refused the user or the client (check username, passwordSecret, clientId and clientSecret)", o.Username)
	}
	return fmt.Sprintf("cannot get an OAuth token for client %q: the token endpoint refused its credentials (check clientId and clientSecret)", o.ClientID)
}

func isEOF(err error) bool {
	s := err.Error()
	return strings.Contains(s, "EOF") || strings.Contains(s, "connection reset")
}

// CheckAll checks every cluster at once and returns what it learnt of each
// (by position; zero for a cluster that failed) and every failure joined.
func CheckAll(ctx context.Context, clusters []*config.Cluster, o Connect) ([]Info, error) {
	infos, errs := CheckEach(ctx, clusters, o)
	return infos, errors.Join(errs...)
}

// CheckEach checks every cluster at once and returns, by position, what it
// learnt of each and each one's failure.
func CheckEach(ctx context.Context, clusters []*config.Cluster, o Connect) ([]Info, []error) {
	infos := make([]Info, len(clusters))
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Go(func() { infos[i], errs[i] = Check(ctx, c, o) })
	}
	wg.Wait()
	return infos, errs
}
