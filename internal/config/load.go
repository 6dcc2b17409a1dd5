package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Environment variables that stand for the flags every command that reads
// a configuration has, so that `kubectl exec … kmirror status` in a
// worker's pod needs neither: the generated Deployment sets both.
const (
	EnvFile       = "KMIRROR_CONFIG"      // -c/--config
	EnvSecretsDir = "KMIRROR_SECRETS_DIR" // --secrets-dir
)

// Options are how a configuration is loaded.
type Options struct {
	// SecretsDir holds Kubernetes secrets as mounted files:
	// SecretsDir/<secretName>/<key>. Without it, a configuration that
	// names a secret does not load, in one error naming the first secret
	// (a client cannot connect without them); but see Offline.
	SecretsDir string
	// Offline loads a configuration to check or print it, not to connect
	// with it: without SecretsDir, each secret it names is recorded in
	// Config.References instead of read, and the cluster keeps the shape
	// of its TLS and authentication (mechanism, user name, where the
	// certificates come from) without the material. Strict makes each
	// such secret an error. Files and environment variables are read.
	Offline bool
	// Strict turns warnings into errors.
	Strict bool
	// LookupEnv reads environment variables; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Unresolved reads none of the secrets, files and environment
	// variables the configuration names, and misses none: each is recorded
	// in Config.References instead, for the pods that will have them.
	// Clusters keep the shape of what secrets hold, as with Offline;
	// material from files and variables is left out.
	Unresolved bool
}

// Load reads, resolves and checks the configuration in a file.
func Load(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse is Load for content already read; path names it in messages and
// anchors relative file references.
func Parse(path string, data []byte, opts Options) (*Config, error) {
	l := &loader{opts: opts, dir: filepath.Dir(path), d: &diags{}}
	var r *raw
	if detectFormat(path, data) == FormatProperties {
		r = l.loadProperties(data)
	} else {
		r = l.loadYAML(data)
	}
	l.unread()
	var cfg *Config
	if r != nil {
		cfg = build(r, l.d)
	}
	var errs, rest []Diagnostic
	for _, x := range l.d.list {
		if x.Level == LevelWarning && opts.Strict {
			x.Level = LevelError
			x.Msg += " (--strict)"
		}
		if x.Level == LevelError {
			errs = append(errs, x)
		} else {
			rest = append(rest, x)
		}
	}
	if len(errs) > 0 || cfg == nil {
		return nil, &Error{Path: path, Errors: errs}
	}
	cfg.Path = path
	cfg.Diagnostics = rest
	cfg.References = l.refs
	return cfg, nil
}

// detectFormat tells properties from YAML: by the file name first, then by
// whether the content is a YAML mapping with the spec's shape.
func detectFormat(path string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".properties", ".props", ".conf":
		return FormatProperties
	case ".yaml", ".yml", ".json":
		return FormatStrimzi
	}
	var doc map[string]any
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err == nil {
		for _, k := range []string{"apiVersion", "kind", "spec", "mirrors", "target", "connectCluster"} {
			if _, ok := doc[k]; ok {
				return FormatStrimzi
			}
		}
		if _, ok := doc["clusters"].([]any); ok {
			return FormatStrimzi
		}
	}
	return FormatProperties
}

// loader holds what resolving references needs.
type loader struct {
	opts   Options
	dir    string
	d      *diags
	native bool
	// version is a Strimzi resource's API version: v1, v1beta2, ….
	version string
	// alias is the alias of the cluster being read, for references.
	alias string
	// refs are what the configuration names and the loader did not read:
	// everything with opts.Unresolved, the secrets without opts.SecretsDir.
	refs []Reference
	// unreadAt is where refs[i] is named, when refs are the secrets not
	// read for want of opts.SecretsDir (not opts.Unresolved).
	unreadAt []loc
}

func (l *loader) lookupEnv(name string) (string, bool) {
	if l.opts.LookupEnv != nil {
		return l.opts.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// file reads a file named in the configuration, relative to its directory.
func (l *loader) file(path string, at loc) ([]byte, bool) {
	if path == "" {
		l.d.errorf(at, "must not be empty")
		return nil, false
	}
	if l.ref(RefFile, path, "", at) {
		return nil, false
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		l.d.errorf(at, "%v", unwrapPath(err))
		return nil, false
	}
	return data, true
}

// secretDir checks a secret's name and returns its directory; deferred
// is true when the secret is recorded instead of read (Unresolved, or no
// SecretsDir).
func (l *loader) secretDir(secret string, at loc) (dir string, deferred, ok bool) {
	if !validSecretName(secret) {
		l.d.errorf(at, "%q is not a valid secret name", secret)
		return "", false, false
	}
	return filepath.Join(l.opts.SecretsDir, secret), l.opts.Unresolved || l.opts.SecretsDir == "", true
}

// secret reads one key of a Kubernetes secret mounted under SecretsDir.
// Unresolved or without SecretsDir it reads nothing and records the
// reference: read is false, ok true. ok is false after an error.
func (l *loader) secret(secret, key string, use Use, at loc) (data []byte, read, ok bool) {
	dir, deferred, ok := l.secretDir(secret, at)
	if !ok {
		return nil, false, false
	}
	if !validSecretName(key) {
		l.d.errorf(at, "%q is not a valid secret key", key)
		return nil, false, false
	}
	if deferred {
		l.deferSecret(secret, key, use, at)
		return nil, false, true
	}
	data, err := os.ReadFile(filepath.Join(dir, key))
	if err != nil {
		l.d.errorf(at, "secret %q key %q: %v", secret, key, unwrapPath(err))
		return nil, false, false
	}
	return data, true, true
}

// deferSecret records a secret key (or glob pattern of keys) that is not
// read.
func (l *loader) deferSecret(secret, key string, use Use, at loc) {
	l.record(Reference{Kind: RefSecret, Name: secret, Key: key, Use: use}, at)
	if !l.opts.Unresolved {
		l.unreadAt = append(l.unreadAt, at)
	}
}

// unread reports the secrets not read for want of SecretsDir: offline, a
// note each, which the caller prints from Config.References, or with
// Strict an error each; otherwise one error, naming the first.
func (l *loader) unread() {
	switch {
	case len(l.unreadAt) == 0:
	case l.opts.Offline && l.opts.Strict:
		for i, at := range l.unreadAt {
			l.d.errorf(at, "%s: %s (--strict)", l.refs[i], NotChecked)
		}
	case !l.opts.Offline:
		first, more := l.refs[0], ""
		if n := len(l.unreadAt) - 1; n > 0 {
			more = fmt.Sprintf(" and %d more", n)
		}
		l.d.errorf(loc{}, "cluster %q: %s%s: not read (no --secrets-dir given); commands that connect (run, plan, preflight, …) need --secrets-dir DIR", first.Cluster, first, more)
	}
}

// validSecretName keeps secret references inside the secrets directory.
func validSecretName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}

// unwrapPath turns "open X: no such file or directory" into
// "X: no such file or directory".
func unwrapPath(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}
