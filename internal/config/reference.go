package config

// A Reference is something outside the configuration file that it names:
// a key of a Kubernetes secret, a file, an environment variable, or a
// password written in the file itself. Options.Unresolved records them
// instead of reading them, for whoever makes them available elsewhere
// (kmirror's Kubernetes manifests mount the secrets).
type Reference struct {
	Kind RefKind
	// Name is the secret's name, the file's path or the variable's name;
	// "" for an inline password.
	Name string
	// Key is the secret's key, or the glob pattern of a secret's keys
	// (trustedCertificates[].pattern); "" otherwise.
	Key string
	// At is where the configuration names it, as a diagnostic does:
	// "spec.clusters[0].authentication.passwordSecret.password (line 30)".
	At string
}

// RefKind is what a Reference names.
type RefKind string

const (
	RefSecret RefKind = "secret"   // a Kubernetes secret, read under --secrets-dir
	RefFile   RefKind = "file"     // a file on the machine kmirror runs on
	RefEnv    RefKind = "env"      // an environment variable
	RefInline RefKind = "password" // a password written in the configuration
)

// ref records a reference while loading unresolved; it reports whether
// loading is unresolved, in which case the caller reads nothing.
func (l *loader) ref(kind RefKind, name, key string, at loc) bool {
	if !l.opts.Unresolved {
		return false
	}
	l.refs = append(l.refs, Reference{Kind: kind, Name: name, Key: key, At: Diagnostic{Key: at.key, Line: at.line}.where()})
	return true
}
