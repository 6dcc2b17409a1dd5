package preflight

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kmirror/kmirror/internal/config"
)

// KafkaUser is a Strimzi KafkaUser resource (kafka.strimzi.io/v1beta2).
type KafkaUser struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	Spec       UserSpec `yaml:"spec"`
	// comments are the reasons of each ACL, printed above it.
	comments [][]string
	// note is printed above the resource.
	note string
}

// Metadata is a KafkaUser's metadata.
type Metadata struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels"`
}

// UserSpec is a KafkaUser's spec.
type UserSpec struct {
	Authentication *Authentication `yaml:"authentication,omitempty"`
	Authorization  Authorization   `yaml:"authorization"`
	Quotas         *Quotas         `yaml:"quotas,omitempty"`
}

// Authentication is spec.authentication: tls or scram-sha-512.
type Authentication struct {
	Type string `yaml:"type"`
}

// Authorization is spec.authorization of type simple.
type Authorization struct {
	Type string `yaml:"type"`
	ACLs []ACL  `yaml:"acls"`
}

// ACL is one entry of spec.authorization.acls.
type ACL struct {
	Resource   ACLResource `yaml:"resource"`
	Operations []string    `yaml:"operations"`
	Host       string      `yaml:"host"`
}

// ACLResource is an ACL's resource; the cluster has neither name nor
// pattern type.
type ACLResource struct {
	Type        string `yaml:"type"`
	Name        string `yaml:"name,omitempty"`
	PatternType string `yaml:"patternType,omitempty"`
}

// Quotas is spec.quotas; nil fields are not set.
type Quotas struct {
	ProducerByteRate  *int64 `yaml:"producerByteRate,omitempty"`
	ConsumerByteRate  *int64 `yaml:"consumerByteRate,omitempty"`
	RequestPercentage *int64 `yaml:"requestPercentage,omitempty"`
}

// UserOptions are what --kafkauser takes besides the configuration.
type UserOptions struct {
	// SourceQuotas go to the users of clusters that are the source of a
	// flow, to protect them, as the seed's source KafkaUser does.
	SourceQuotas *Quotas
	// Rollback adds what `kmirror migrate rollback` needs.
	Rollback bool
	// HandBack adds what `kmirror migrate hand-back` needs.
	HandBack bool
}

// KafkaUsers returns a least-privilege KafkaUser for every cluster of cfg:
// the needs of every flow, named by the flows' patterns.
func KafkaUsers(cfg *config.Config, opts UserOptions) []KafkaUser {
	var needs []Need
	sources := map[string]bool{}
	for _, f := range cfg.Flows {
		scope := PatternScope(f).WithMM2(f, cfg.Cluster(f.Target))
		scope.Rollback = opts.Rollback
		scope = scope.WithHandBack(opts.HandBack, cfg, f)
		needs = append(needs, Derive(f, scope)...)
		sources[f.Source] = true
	}
	needs = Merge(needs)
	var aliases []string
	for _, n := range needs {
		if !slices.Contains(aliases, n.Cluster) {
			aliases = append(aliases, n.Cluster)
		}
	}
	var users []KafkaUser
	for _, alias := range aliases {
		var mine []Need
		for _, n := range needs {
			if n.Cluster == alias {
				mine = append(mine, n)
			}
		}
		u := newUser(cfg.Cluster(alias), mine)
		if sources[alias] {
			u.Spec.Quotas = opts.SourceQuotas
		}
		users = append(users, u)
	}
	return users
}

func newUser(c *config.Cluster, needs []Need) KafkaUser {
	name, namespace := strimziCluster(c)
	u := KafkaUser{APIVersion: "kafka.strimzi.io/v1beta2", Kind: "KafkaUser",
		Metadata: Metadata{Name: userName(c), Namespace: namespace, Labels: map[string]string{"strimzi.io/cluster": name}}}
	u.note = fmt.Sprintf("kmirror's user on cluster %q", c.Alias)
	switch {
	case c.SASL != nil && c.SASL.OAuth != nil:
		// Strimzi's KafkaUser of an OAuth user has no authentication: the
		// authorization server authenticates it; the KafkaUser gives it
		// its ACLs, under the name the brokers take from its token.
		u.note += fmt.Sprintf("; kmirror authenticates with OAuth 2.0 (%s), so the user has no spec.authentication:\n"+
			"its name must be the principal the brokers take from the token (their listener's userNameClaim, by default the sub claim;\n"+
			"for a Keycloak service account, e.g. service-account-%s): rename it if it differs", oauthWho(c.SASL.OAuth), userName(c))
	case c.SASL != nil && c.SASL.Mechanism == config.MechanismSCRAMSHA512:
		u.Spec.Authentication = &Authentication{Type: "scram-sha-512"}
	case c.SASL != nil:
		u.note += fmt.Sprintf("; kmirror authenticates with SASL %s, which a KafkaUser does not offer: set spec.authentication", c.SASL.Mechanism)
	case c.TLS.MutualTLS():
		u.Spec.Authentication = &Authentication{Type: "tls"}
		if c.TLS.Certificate == nil && c.TLS.CertificateSecret != "" {
			u.note += fmt.Sprintf("\nnamed after the secret %s of its certificate: the User Operator names a user's secret after the user;\nthe certificate's CN, the name Kafka authorizes, is not checked (no --secrets-dir)", c.TLS.CertificateSecret)
		}
	default:
		u.note += "; kmirror connects without authentication: set spec.authentication"
	}
	u.Spec.Authorization.Type = "simple"
	hasWrite := slices.ContainsFunc(needs, func(n Need) bool { return n.Operation == OpWrite && n.Resource.Type == TypeTopic })
	index := map[Resource]int{}
	for _, n := range needs {
		if n.ByTopicWrite && hasWrite {
			continue
		}
		i, ok := index[n.Resource]
		if !ok {
			i = len(u.Spec.Authorization.ACLs)
			index[n.Resource] = i
			r := ACLResource{Type: n.Resource.Type, Name: n.Resource.Name, PatternType: n.Resource.Pattern}
			if r.Type == TypeCluster {
				r.Name, r.PatternType = "", ""
			}
			u.Spec.Authorization.ACLs = append(u.Spec.Authorization.ACLs, ACL{Resource: r, Host: "*"})
			u.comments = append(u.comments, nil)
		}
		u.Spec.Authorization.ACLs[i].Operations = append(u.Spec.Authorization.ACLs[i].Operations, n.Operation)
		u.comments[i] = append(u.comments[i], n.Operation+": "+n.Why)
	}
	return u
}

// userName is the KafkaUser's name, which Strimzi makes the SCRAM user
// name or the certificate's CN. A certificate not read is named by its
// secret: the User Operator gives the user's secret the user's name, so
// that this KafkaUser makes the secret the configuration reads.
func userName(c *config.Cluster) string {
	switch {
	case c.SASL != nil && c.SASL.OAuth != nil:
		switch o := c.SASL.OAuth; {
		case o.Grant == config.GrantPassword:
			return o.Username
		case o.ClientID != "":
			return o.ClientID
		}
		return "kmirror"
	case c.SASL != nil:
		return c.SASL.Username
	case c.TLS != nil && c.TLS.Certificate != nil && len(c.TLS.Certificate.Certificate) > 0:
		if cert, err := x509.ParseCertificate(c.TLS.Certificate.Certificate[0]); err == nil && cert.Subject.CommonName != "" {
			return cert.Subject.CommonName
		}
	case c.TLS.MutualTLS() && c.TLS.CertificateSecret != "":
		return c.TLS.CertificateSecret
	}
	return "kmirror"
}

// oauthWho says whose tokens kmirror authenticates with.
func oauthWho(o *config.OAuth) string {
	switch {
	case o.Grant == config.GrantPassword:
		return fmt.Sprintf("user %q", o.Username)
	case o.ClientID != "":
		return fmt.Sprintf("client %q", o.ClientID)
	}
	return "a token given"
}

// strimziCluster reads the Strimzi cluster name (and namespace) from a
// bootstrap address of Strimzi's form <cluster>-kafka-bootstrap[.<namespace>…];
// otherwise the alias names the cluster.
func strimziCluster(c *config.Cluster) (name, namespace string) {
	for _, addr := range c.Bootstrap {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		service, rest, _ := strings.Cut(host, ".")
		if cl, ok := strings.CutSuffix(service, "-kafka-bootstrap"); ok && cl != "" {
			ns, _, _ := strings.Cut(rest, ".")
			return cl, ns
		}
	}
	return c.Alias, ""
}

// YAML renders the users as one YAML stream, each ACL under comments that
// say why kmirror needs it.
func YAML(users []KafkaUser) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, u := range users {
		var doc yaml.Node
		if err := doc.Encode(u); err != nil {
			return nil, fmt.Errorf("encode KafkaUser %q: %w", u.Metadata.Name, err)
		}
		doc.HeadComment = u.note
		if acls := lookup(&doc, "spec", "authorization", "acls"); acls != nil {
			for i, item := range acls.Content {
				if i < len(u.comments) {
					item.HeadComment = strings.Join(u.comments[i], "\n")
				}
			}
		}
		if err := enc.Encode(&doc); err != nil {
			return nil, fmt.Errorf("encode KafkaUser %q: %w", u.Metadata.Name, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lookup follows mapping keys from n.
func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}
