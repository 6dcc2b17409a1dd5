package testbed

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/pki"
)

// KafkaEnv names the environment variable that selects Apache Kafka as the
// test bed: the directory of one version's jars, as
// internal/testbed/apache/fetch.sh prints it. Unset, tests run on kfake.
const KafkaEnv = "KMIRROR_KAFKA"

// startTimeout bounds a node's start, from the JVM's launch to the cluster
// answering with every node.
const startTimeout = 90 * time.Second

// KafkaJars returns the directory of the Apache Kafka jars the tests run
// against, or "" when they run on kfake.
func KafkaJars() string { return os.Getenv(KafkaEnv) }

// KafkaVersion returns the version of the jars in dir (fetch.sh writes it
// to dir/.complete).
func KafkaVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, ".complete"))
	if err != nil {
		return filepath.Base(dir)
	}
	return strings.TrimSpace(string(b))
}

// KafkaOptions shape an Apache Kafka cluster.
type KafkaOptions struct {
	// Nodes is the number of nodes, each a broker and a KRaft controller
	// (default 1).
	Nodes int
	// Secure adds an SSL listener that requires client certificates and a
	// SASL_SSL listener with SCRAM-SHA-512, and turns the StandardAuthorizer
	// on. The PLAINTEXT listener stays for the test itself, whose principal
	// (ANONYMOUS) is a super user.
	Secure bool
	// Config holds further broker properties.
	Config map[string]string
	// Host is the address the PLAINTEXT listener binds and advertises
	// (default 127.0.0.1), for a test whose clients reach the brokers
	// through an interface of its own. The controllers stay on loopback.
	Host string
	// Jars is the directory of Kafka's jars (default KafkaJars()).
	Jars string
	// Heap is each node's maximum Java heap (default 768m).
	Heap string
	// OAuth adds a SASL_PLAINTEXT listener (Kafka.OAuthAddr) whose
	// clients authenticate with OAUTHBEARER, their tokens checked by
	// Kafka's OAuthBearerValidatorCallbackHandler.
	OAuth *KafkaOAuth
}

// KafkaOAuth is how the brokers check OAuth tokens.
type KafkaOAuth struct {
	// JWKSURL serves the keys that sign the tokens; the brokers may
	// fetch it alone (org.apache.kafka.sasl.oauthbearer.allowed.urls,
	// Kafka 3.9.1 and 4.0+).
	JWKSURL string
	// Audience is the aud claim a token must carry; "" takes any.
	Audience string
	// Reauth is the listener's connections.max.reauth.ms: a session ends
	// after it or when its token expires, whichever comes first, and the
	// client authenticates again. 0, Kafka's default, lets sessions
	// outlive their tokens.
	Reauth time.Duration
}

// Kafka is an Apache Kafka cluster in KRaft mode whose nodes are real
// processes, started from the jars of KafkaJars.
type Kafka struct {
	Brokers
	// Version is Kafka's version.
	Version string
	// TLSAddr and SASLAddr are the SSL (client certificate) and SASL_SSL
	// (SCRAM-SHA-512) listeners of a Secure cluster; CA signed the
	// brokers' and clients' certificates.
	TLSAddr, SASLAddr string
	CA                *pki.CA
	// OAuthAddr is the SASL_PLAINTEXT (OAUTHBEARER) listener of a
	// cluster with KafkaOptions.OAuth.
	OAuthAddr string

	jars  string
	heap  string
	jvm   []string // further JVM options of the nodes
	dir   string
	nodes []*Node
}

// Node is one process of a Kafka cluster.
type Node struct {
	ID   int
	Addr string // its PLAINTEXT listener

	k    *Kafka
	conf string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartKafka starts an Apache Kafka cluster from the jars of KafkaJars
// and stops it with the test. On failure, the nodes' logs are printed.
func StartKafka(t testing.TB, opts KafkaOptions) *Kafka {
	t.Helper()
	began := time.Now()
	k, err := startKafka(opts)
	if err == nil {
		t.Logf("Apache Kafka %s (%d nodes) started in %s", k.Version, len(k.nodes), time.Since(began).Round(10*time.Millisecond))
	}
	if k != nil {
		t.Cleanup(func() {
			if t.Failed() {
				k.dumpLogs(t.Name(), func(s string) { t.Log(s) })
			}
			k.Stop()
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var shared struct {
	sync.Mutex
	clusters map[string]*Kafka
}

// SharedKafka returns the Apache Kafka cluster named name, started at the
// first call of the test binary with opts and stopped by StopShared, so that
// a package's tests share brokers instead of starting their own. A failed
// test prints the nodes' logs.
func SharedKafka(t testing.TB, name string, opts KafkaOptions) *Kafka {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	k := shared.clusters[name]
	if k == nil {
		var err error
		began := time.Now()
		if k, err = startKafka(opts); err != nil {
			if k != nil {
				k.dumpLogs(name, func(s string) { t.Log(s) })
				k.Stop()
			}
			t.Fatalf("start Kafka %q: %v", name, err)
		}
		if shared.clusters == nil {
			shared.clusters = map[string]*Kafka{}
		}
		shared.clusters[name] = k
		t.Logf("Apache Kafka %s cluster %q (%d nodes) started in %s", k.Version, name, len(k.nodes), time.Since(began).Round(10*time.Millisecond))
	}
	t.Cleanup(func() {
		if t.Failed() {
			k.dumpLogs(t.Name(), func(s string) { t.Log(s) })
		}
	})
	return k
}

// StopShared stops every cluster SharedKafka started; TestMain calls it.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	for name, k := range shared.clusters {
		k.Stop()
		delete(shared.clusters, name)
	}
}

func startKafka(opts KafkaOptions) (*Kafka, error) {
	jars := opts.Jars
	if jars == "" {
		jars = KafkaJars()
	}
	if jars == "" {
		return nil, fmt.Errorf("%s is not set: run internal/testbed/apache/fetch.sh", KafkaEnv)
	}
	if opts.Heap == "" {
		opts.Heap = "768m"
	}
	if opts.Nodes == 0 {
		opts.Nodes = 1
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	dir, err := os.MkdirTemp("", "kmirror-kafka-")
	if err != nil {
		return nil, err
	}
	k := &Kafka{Version: KafkaVersion(jars), jars: jars, heap: opts.Heap, dir: dir}
	if opts.OAuth != nil {
		k.jvm = append(k.jvm, "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls="+opts.OAuth.JWKSURL)
	}
	if opts.Secure {
		if k.CA, err = pki.NewCA("kmirror-test-kafka-ca"); err != nil {
			return k, err
		}
	}
	// Each node's ports: PLAINTEXT, CONTROLLER, SSL, SASL_SSL, OAUTH.
	const perNode = 5
	ports, err := freePorts(opts.Nodes * perNode)
	if err != nil {
		return k, err
	}
	var voters []string
	for i := range opts.Nodes {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, ports[i*perNode+1]))
	}
	for i := range opts.Nodes {
		n := &Node{ID: i + 1, k: k, Addr: net.JoinHostPort(opts.Host, fmt.Sprint(ports[i*perNode]))}
		n.conf = filepath.Join(dir, fmt.Sprintf("node-%d.properties", n.ID))
		n.log = filepath.Join(dir, fmt.Sprintf("node-%d.log", n.ID))
		props, err := k.nodeConfig(n, opts, ports[i*perNode:(i+1)*perNode], strings.Join(voters, ","))
		if err != nil {
			return k, err
		}
		if err := os.WriteFile(n.conf, []byte(props), 0o600); err != nil {
			return k, err
		}
		k.nodes = append(k.nodes, n)
	}
	var addrs, tlsAddrs, saslAddrs, oauthAddrs []string
	for i, n := range k.nodes {
		addrs = append(addrs, n.Addr)
		tlsAddrs = append(tlsAddrs, fmt.Sprintf("127.0.0.1:%d", ports[i*perNode+2]))
		saslAddrs = append(saslAddrs, fmt.Sprintf("127.0.0.1:%d", ports[i*perNode+3]))
		oauthAddrs = append(oauthAddrs, fmt.Sprintf("127.0.0.1:%d", ports[i*perNode+4]))
	}
	k.Addr = strings.Join(addrs, ",")
	if opts.Secure {
		k.TLSAddr, k.SASLAddr = strings.Join(tlsAddrs, ","), strings.Join(saslAddrs, ",")
	}
	if opts.OAuth != nil {
		k.OAuthAddr = strings.Join(oauthAddrs, ",")
	}
	clusterID := newClusterID()
	// Formatting is a JVM each; they run side by side.
	var wg sync.WaitGroup
	errs := make([]error, len(k.nodes))
	for i, n := range k.nodes {
		wg.Go(func() { errs[i] = k.java(n.log, "kafka.tools.StorageTool", "format", "-t", clusterID, "-c", n.conf) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return k, fmt.Errorf("format the nodes' storage: %w", err)
	}
	for _, n := range k.nodes {
		if err := n.start(); err != nil {
			return k, err
		}
	}
	return k, k.waitReady(len(k.nodes))
}

// nodeConfig is a node's server.properties: PLAINTEXT and CONTROLLER
// listeners, and with opts.Secure, SSL and SASL_SSL ones and the authorizer.
func (k *Kafka) nodeConfig(n *Node, opts KafkaOptions, ports []int, voters string) (string, error) {
	rf := min(opts.Nodes, 3)
	props := map[string]string{
		"process.roles":                            "broker,controller",
		"node.id":                                  fmt.Sprint(n.ID),
		"controller.quorum.voters":                 voters,
		"controller.listener.names":                "CONTROLLER",
		"inter.broker.listener.name":               "PLAINTEXT",
		"log.dirs":                                 filepath.Join(k.dir, fmt.Sprintf("data-%d", n.ID)),
		"offsets.topic.replication.factor":         fmt.Sprint(rf),
		"offsets.topic.num.partitions":             "4",
		"transaction.state.log.replication.factor": fmt.Sprint(rf),
		"transaction.state.log.min.isr":            "1",
		"transaction.state.log.num.partitions":     "4",
		"default.replication.factor":               fmt.Sprint(rf),
		"group.initial.rebalance.delay.ms":         "0",
		"auto.create.topics.enable":                "false",
		// The real log cleaner, quick enough for a test to see it work.
		"log.cleaner.backoff.ms": "200",
	}
	listeners := []string{
		"PLAINTEXT://" + n.Addr,
		fmt.Sprintf("CONTROLLER://127.0.0.1:%d", ports[1]),
	}
	advertised := []string{listeners[0]}
	protocols := "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	if opts.Secure {
		tlsL := fmt.Sprintf("SSL://127.0.0.1:%d", ports[2])
		saslL := fmt.Sprintf("SASL_SSL://127.0.0.1:%d", ports[3])
		listeners = append(listeners, tlsL, saslL)
		advertised = append(advertised, tlsL, saslL)
		protocols += ",SSL:SSL,SASL_SSL:SASL_SSL"
		server, err := k.CA.Issue(fmt.Sprintf("kafka-%d", n.ID), "127.0.0.1", "localhost")
		if err != nil {
			return "", err
		}
		keystore := filepath.Join(k.dir, fmt.Sprintf("node-%d-keystore.pem", n.ID))
		truststore := filepath.Join(k.dir, "ca.pem")
		if err := os.WriteFile(keystore, append(append([]byte{}, server.KeyPEM...), server.CertPEM...), 0o600); err != nil {
			return "", err
		}
		if err := os.WriteFile(truststore, k.CA.PEM, 0o600); err != nil {
			return "", err
		}
		for key, v := range map[string]string{
			"ssl.keystore.type":                                     "PEM",
			"ssl.keystore.location":                                 keystore,
			"ssl.truststore.type":                                   "PEM",
			"ssl.truststore.location":                               truststore,
			"listener.name.ssl.ssl.client.auth":                     "required",
			"ssl.endpoint.identification.algorithm":                 "",
			"sasl.enabled.mechanisms":                               "SCRAM-SHA-512",
			"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
			// A client certificate's CN is its user, as Strimzi maps it.
			"ssl.principal.mapping.rules":    "RULE:^CN=(.*?)$/$1/,DEFAULT",
			"authorizer.class.name":          "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			"super.users":                    "User:ANONYMOUS",
			"allow.everyone.if.no.acl.found": "false",
		} {
			props[key] = v
		}
	}
	if o := opts.OAuth; o != nil {
		l := fmt.Sprintf("OAUTH://127.0.0.1:%d", ports[4])
		listeners = append(listeners, l)
		advertised = append(advertised, l)
		protocols += ",OAUTH:SASL_PLAINTEXT"
		const p = "listener.name.oauth."
		props[p+"sasl.enabled.mechanisms"] = "OAUTHBEARER"
		props[p+"oauthbearer.sasl.jaas.config"] = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
		props[p+"oauthbearer.sasl.server.callback.handler.class"] = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
		props["sasl.oauthbearer.jwks.endpoint.url"] = o.JWKSURL
		if o.Audience != "" {
			props["sasl.oauthbearer.expected.audience"] = o.Audience
		}
		if o.Reauth > 0 {
			props[p+"oauthbearer.connections.max.reauth.ms"] = fmt.Sprint(o.Reauth.Milliseconds())
		}
	}
	props["listeners"] = strings.Join(listeners, ",")
	props["advertised.listeners"] = strings.Join(advertised, ",")
	props["listener.security.protocol.map"] = protocols
	for key, v := range opts.Config {
		props[key] = v
	}
	keys := make([]string, 0, len(props))
	for key := range props {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, key := range keys {
		fmt.Fprintf(&b, "%s=%s\n", key, props[key])
	}
	return b.String(), nil
}

// java runs a Java main class of Kafka's jars to its end, logging to log.
func (k *Kafka) java(log string, args ...string) error {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command("java", append(JavaArgs(k.jars, "256m"), args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (see %s)", args[0], err, log)
	}
	return nil
}

// JavaArgs are the JVM arguments the test bed runs Kafka's classes with:
// the jars of dir on the class path, a heap of at most heap, the serial
// collector (two cores), and slf4j-simple's lines with their time.
func JavaArgs(dir, heap string) []string {
	return []string{
		"-Xms64m", "-Xmx" + heap, "-XX:+UseSerialGC",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
		"-Dlog4j2.level=warn",
		"-cp", filepath.Join(dir, "*"),
	}
}

// Nodes returns the cluster's nodes.
func (k *Kafka) Nodes() []*Node { return k.nodes }

// Stop kills every node and removes the cluster's files.
func (k *Kafka) Stop() {
	for _, n := range k.nodes {
		n.Kill()
	}
	os.RemoveAll(k.dir)
}

func (n *Node) start() error {
	cmd, done, err := startJava(n.log, n.k.jars, n.k.heap, append(slices.Clone(n.k.jvm), "kafka.Kafka", n.conf)...)
	if err != nil {
		return fmt.Errorf("start Kafka node %d: %w", n.ID, err)
	}
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	return nil
}

// startJava starts a Java main class of the jars in dir with a heap of at
// most heap, its output appended to log; done closes when it has exited.
// args may begin with further JVM options.
// The process dies with the test binary, whatever ends it.
func startJava(log, dir, heap string, args ...string) (*exec.Cmd, chan struct{}, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command("java", append(JavaArgs(dir, heap), args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		f.Close()
		close(done)
	}()
	return cmd, done, nil
}

func (n *Node) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

// Kill ends the node with SIGKILL and waits for it to be gone.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Kill()
	<-done
}

// Freeze stops the node with SIGSTOP: it holds its connections and answers
// nothing until Thaw.
func (n *Node) Freeze() { n.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen node.
func (n *Node) Thaw() { n.signal(syscall.SIGCONT) }

// Restart starts a killed node again on its data and waits until the
// cluster has every node.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	if err := n.k.waitReady(len(n.k.nodes)); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits until the cluster's metadata lists nodes brokers.
func (k *Kafka) waitReady(nodes int) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(k.Addr, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	var last error
	for {
		// A metadata request of its own: kadm's BrokerMetadata answers
		// from the client's broker list once it has one, which a client
		// that consumes nothing does not refresh for minutes.
		m, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		switch {
		case err != nil:
			last = err
		case len(m.Brokers) < nodes:
			last = fmt.Errorf("%d of %d brokers registered", len(m.Brokers), nodes)
		default:
			return nil
		}
		for _, n := range k.nodes {
			n.mu.Lock()
			done := n.done
			n.mu.Unlock()
			if done == nil {
				continue
			}
			select {
			case <-done:
				return fmt.Errorf("Kafka node %d exited while starting (see its log)", n.ID)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Kafka %s not ready within %s: %v", k.Version, startTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dumpLogs prints the last lines of each node's log and, under
// $KMIRROR_ARTIFACTS, keeps the whole logs.
func (k *Kafka) dumpLogs(name string, logf func(string)) {
	const lines = 60
	for _, n := range k.nodes {
		data, err := os.ReadFile(n.log)
		if err != nil {
			continue
		}
		if root := os.Getenv("KMIRROR_ARTIFACTS"); root != "" {
			dst := filepath.Join(root, strings.ReplaceAll(name, "/", "_"), fmt.Sprintf("%s-node-%d.log", filepath.Base(k.dir), n.ID))
			if os.MkdirAll(filepath.Dir(dst), 0o755) == nil && os.WriteFile(dst, data, 0o644) == nil {
				logf(fmt.Sprintf("Kafka node %d's log kept in %s", n.ID, dst))
			}
		}
		logf(fmt.Sprintf("last lines of Kafka node %d's log:\n%s", n.ID, tail(n.log, lines)))
	}
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// newClusterID returns a random KRaft cluster ID. One that starts with
// "-" would be read as an option by the storage tool's argument parser
// (Kafka's own Uuid.randomUuid draws again for the same reason).
func newClusterID() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id
		}
	}
}
