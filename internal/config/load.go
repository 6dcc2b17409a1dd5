package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Options are how a configuration is loaded.
type Options struct {
	// SecretsDir holds Kubernetes secrets as mounted files:
	// SecretsDir/<secretName>/<key>.
	SecretsDir string
	// Strict turns warnings into errors.
	Strict bool
	// LookupEnv reads environment variables; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Unresolved reads none of the secrets, files and environment
	// variables the configuration names, and misses none: each is recorded
	// in Config.References instead, for the pods that will have them. The
	// clusters' TLS and authentication are then left empty.
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
	refs   []Reference // with opts.Unresolved
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

func (l *loader) secretDir(secret string, at loc) (string, bool) {
	if l.opts.SecretsDir == "" && !l.opts.Unresolved {
		l.d.errorf(at, "secret %q: no --secrets-dir given (Kubernetes secrets are read from DIR/<secretName>/<key>)", secret)
		return "", false
	}
	if !validSecretName(secret) {
		l.d.errorf(at, "%q is not a valid secret name", secret)
		return "", false
	}
	return filepath.Join(l.opts.SecretsDir, secret), true
}

// secret reads one key of a Kubernetes secret mounted under SecretsDir.
func (l *loader) secret(secret, key string, at loc) ([]byte, bool) {
	dir, ok := l.secretDir(secret, at)
	if !ok {
		return nil, false
	}
	if !validSecretName(key) {
		l.d.errorf(at, "%q is not a valid secret key", key)
		return nil, false
	}
	if l.ref(RefSecret, secret, key, at) {
		return nil, false
	}
	data, err := os.ReadFile(filepath.Join(dir, key))
	if err != nil {
		l.d.errorf(at, "secret %q key %q: %v", secret, key, unwrapPath(err))
		return nil, false
	}
	return data, true
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
