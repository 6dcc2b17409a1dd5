package main_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/kmirror/kmirror/internal/testbed"
)

// oauthLifetime is how long the test endpoint's tokens live, and
// oauthReauth the longest session the target's brokers allow: kmirror
// authenticates again every few seconds, and asks for a new token after
// 80% of the old one's lifetime.
const (
	oauthLifetime = 10 * time.Second
	oauthReauth   = 3 * time.Second
)

// oauthTarget is a target cluster whose brokers take OAUTHBEARER tokens of
// srv: an Apache Kafka cluster of the test's own, whose
// OAuthBearerValidatorCallbackHandler checks them against srv's JWKS, or
// kfake, where srv checks them (kfake speaks PLAIN and SCRAM only). addr
// is the OAUTHBEARER listener; the test's own clients use the
// cluster's Addr.
func oauthTarget(t *testing.T, srv *testbed.OAuthServer) (c *bedCluster, addr string) {
	t.Helper()
	if !onKafka() {
		k := testbed.NewCluster(t)
		srv.ServeOAuthBearer(k, oauthReauth)
		return &bedCluster{Brokers: k.Brokers, kfake: k}, k.Addr
	}
	k := testbed.StartKafka(t, testbed.KafkaOptions{OAuth: &testbed.KafkaOAuth{JWKSURL: srv.JWKSURL, Audience: "kafka", Reauth: oauthReauth}})
	return &bedCluster{Brokers: k.Brokers, kafka: k}, k.OAuthAddr
}

// oauthSource is a source cluster without authentication.
func oauthSource(t *testing.T) *bedCluster {
	t.Helper()
	if !onKafka() {
		k := testbed.NewCluster(t)
		return &bedCluster{Brokers: k.Brokers, kfake: k}
	}
	k := testbed.SharedKafka(t, "source", testbed.KafkaOptions{Secure: true})
	return &bedCluster{Brokers: k.Brokers, kafka: k}
}

// oauthResource writes a KafkaMirrorMaker2 whose target authenticates with
// Strimzi's type oauth, client credentials of client kmirror, the secret
// in the Kubernetes secret kmirror-oauth.
func oauthResource(t *testing.T, source, target, tokenURL, topic string) string {
	t.Helper()
	text := fmt.Sprintf(`apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaMirrorMaker2
metadata:
  name: oauth-mirror
spec:
  replicas: 1
  connectCluster: oauth-target
  clusters:
    - alias: oauth-source
      bootstrapServers: %s
    - alias: oauth-target
      bootstrapServers: %s
      authentication:
        type: oauth
        tokenEndpointUri: %s
        clientId: kmirror
        clientSecret:
          secretName: kmirror-oauth
          key: client-secret
        scope: kafka
        audience: kafka
        connectTimeoutSeconds: 5
        readTimeoutSeconds: 5
  mirrors:
    - sourceCluster: oauth-source
      targetCluster: oauth-target
      topicsPattern: %q
      sourceConnector:
        config:
          replication.policy.class: identity
`, source, target, tokenURL, topic)
	path := filepath.Join(t.TempDir(), "kmm2.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOAuth: kmirror run, with Strimzi's type oauth (client credentials),
// copies into a target whose brokers take OAUTHBEARER alone, exactly; the
// brokers end sessions every few seconds and the tokens live seconds, so
// kmirror authenticates again and asks for new tokens while it copies,
// and copies on after its first token expired. Each token request is
// HTTP Basic with the scope and audience configured. A wrong client
// secret ends run and preflight in one error naming the cluster and the
// token endpoint; no secret is printed. On Apache Kafka, Kafka's own
// OAuthBearerValidatorCallbackHandler checks the tokens against the
// test's JWKS; on kfake, the test's server does.
func TestOAuth(t *testing.T) {
	const secret, wrongSecret = "the-cl1ent-s3cret", "not-the-s3cret"
	srv := testbed.StartOAuth(t, testbed.OAuthOptions{Audience: "kafka", Lifetime: oauthLifetime})
	srv.AddClient("kmirror", secret)
	tgt, oauthAddr := oauthTarget(t, srv)
	src := oauthSource(t)
	t.Logf("on %s", bedName())

	// The brokers check the tokens: one for another audience is refused.
	for _, aud := range []string{"kafka", "another-cluster"} {
		token, err := srv.Token("kmirror", "kafka", aud, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		cl := (&testbed.Brokers{Addr: oauthAddr}).Client(t, kgo.SASL(oauth.Auth{Token: token}.AsMechanism()))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = cl.Ping(ctx)
		cancel()
		if refused := errors.Is(err, kerr.SaslAuthenticationFailed); refused != (aud != "kafka") {
			t.Fatalf("a token for audience %s: %v", aud, err)
		}
	}

	topic := uniq(t, "oauth-orders")
	src.createTopic(t, topic, 3, nil)
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "order %d", i),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}})
		}
		src.Produce(t, recs)
	}
	produce(0, 300)

	cfg := oauthResource(t, src.Addr, oauthAddr, srv.TokenURL, "^"+topic+"$")
	secrets, wrong := t.TempDir(), t.TempDir()
	testbed.WriteFiles(t, secrets, map[string][]byte{"kmirror-oauth/client-secret": []byte(secret + "\n")})
	testbed.WriteFiles(t, wrong, map[string][]byte{"kmirror-oauth/client-secret": []byte(wrongSecret + "\n")})
	shown := []string{secret, wrongSecret}

	code, out := runs(t, 2*time.Minute, "preflight", "-c", cfg, "--secrets-dir", secrets)
	noSecrets(t, "preflight", out, shown)
	if code != 0 {
		t.Fatalf("preflight exited %d:\n%s", code, out)
	}

	began, before := time.Now(), srv.Issued() // preflight's
	w := runWorker(t, cfg, "--secrets-dir", secrets)
	tgt.waitEnds(t, topic, src.EndOffsets(t, topic), 2*time.Minute)
	compareTopic(t, src, tgt, topic, topic)

	// Three tokens: the first has expired (it lived oauthLifetime, the
	// third came at least 1.6 lifetimes after it), the worker copies on.
	// Each token serves every client until 80% of its lifetime.
	testbed.WaitFor(t, 4*oauthLifetime, "kmirror run to ask for a third token", func() bool { return srv.Issued()-before >= 3 })
	if n, most := srv.Issued()-before, int(time.Since(began)/(oauthLifetime*8/10))+1; n > most {
		t.Errorf("%d tokens in %s, want at most %d: not kept until their refresh window", n, time.Since(began), most)
	}
	produce(300, 300)
	tgt.waitEnds(t, topic, src.EndOffsets(t, topic), 2*time.Minute)
	compareTopic(t, src, tgt, topic, topic)
	for _, r := range srv.Requests() {
		if want := (testbed.TokenRequest{Grant: "client_credentials", ClientID: "kmirror", Scope: "kafka", Audience: "kafka", Basic: true, Status: http.StatusOK}); r != want {
			t.Errorf("token request %+v, want %+v", r, want)
		}
	}
	stopWorker(t, w)
	noSecrets(t, "run", w.output(), shown)
	if out := w.output(); strings.Contains(out, "SASL_AUTHENTICATION_FAILED") || strings.Contains(out, "token endpoint") {
		t.Errorf("authentication failed while copying:\n%s", out)
	}

	// A wrong secret: one error naming the cluster and the endpoint.
	want := `kmirror: cluster "oauth-target": cannot get an OAuth token for client "kmirror": the token endpoint refused its credentials (check clientId and clientSecret): token endpoint ` +
		srv.TokenURL + `: 401 Unauthorized: invalid_client`
	code, out = runs(t, time.Minute, "run", "-c", cfg, "--secrets-dir", wrong, "--http", "")
	noSecrets(t, "run with a wrong secret", out, shown)
	if code == 0 || !strings.Contains(out, want) || strings.Count(out, `cluster "oauth-target"`) != 1 {
		t.Errorf("run with a wrong secret exited %d, want one line %q:\n%s", code, want, out)
	}
	code, out = runs(t, time.Minute, "preflight", "-c", cfg, "--secrets-dir", wrong)
	noSecrets(t, "preflight with a wrong secret", out, shown)
	if code != 1 || !strings.Contains(out, `cluster "oauth-target": cannot get an OAuth token for client "kmirror"`) {
		t.Errorf("preflight with a wrong secret exited %d:\n%s", code, out)
	}
}
