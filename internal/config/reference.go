package config

// A Reference is something outside the configuration file that it names:
// a key of a Kubernetes secret, a file, an environment variable, or a
// password written in the file itself. Options.Unresolved records them
// instead of reading them, for whoever makes them available elsewhere
// (kmirror's Kubernetes manifests mount the secrets); Options.Offline
// without a SecretsDir records the secrets, which were not checked.
type Reference struct {
	Kind RefKind
	// Cluster is the alias of the cluster that names it; "" when the
	// configuration names it outside a cluster.
	Cluster string
	// Name is the secret's name, the file's path or the variable's name;
	// "" for an inline password.
	Name string
	// Key is the secret's key, or the glob pattern of a secret's keys
	// (trustedCertificates[].pattern); "" otherwise.
	Key string
	// Use is what a secret's key holds; "" for what is not a secret.
	Use Use
	// At is where the configuration names it, as a diagnostic does:
	// "spec.clusters[0].authentication.passwordSecret.password (line 30)".
	At string
}

// String names what is referred to: "secret mm2-source-cluster/tls.crt",
// "file /etc/ca.pem", "environment variable A_PASSWORD", "password
// written in the configuration".
func (r Reference) String() string {
	switch r.Kind {
	case RefSecret:
		return "secret " + r.Name + "/" + r.Key
	case RefFile:
		return "file " + r.Name
	case RefEnv:
		return "environment variable " + r.Name
	}
	return "password written in the configuration"
}

// NotChecked is what a command that reads no secrets says of each.
const NotChecked = "not checked (no --secrets-dir)"

// RefKind is what a Reference names.
type RefKind string

const (
	RefSecret RefKind = "secret"   // a Kubernetes secret, read under --secrets-dir
	RefFile   RefKind = "file"     // a file on the machine kmirror runs on
	RefEnv    RefKind = "env"      // an environment variable
	RefInline RefKind = "password" // a password written in the configuration
)

// Use is what a secret's key holds, so that whoever provides the secret
// (kmirror dev-cluster makes them up) knows what to put there.
type Use string

const (
	UseTrust       Use = "trust"       // CA certificates to trust, PEM
	UseCertificate Use = "certificate" // the client certificate, PEM
	UseKey         Use = "key"         // the client certificate's private key, PEM
	UsePassword    Use = "password"    // a SASL password
	UseOAuthSecret Use = "oauth"       // an OAuth client secret, refresh token or access token
)

// ref records a reference while loading unresolved; it reports whether
// loading is unresolved, in which case the caller reads nothing.
func (l *loader) ref(kind RefKind, name, key string, at loc) bool {
	if !l.opts.Unresolved {
		return false
	}
	l.record(Reference{Kind: kind, Name: name, Key: key}, at)
	return true
}

// record adds r, named at at by the cluster being read.
func (l *loader) record(r Reference, at loc) {
	r.Cluster, r.At = l.alias, Diagnostic{Key: at.key, Line: at.line}.where()
	l.refs = append(l.refs, r)
}
