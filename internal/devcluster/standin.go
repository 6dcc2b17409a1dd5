package devcluster

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/pki"
)

// A Standin is a dev cluster that stands for one cluster of a
// configuration: it listens on the cluster's bootstrap servers and asks
// for the credentials the configuration gives, which Standins makes up,
// so that kmirror runs on the configuration unchanged but for its
// addresses.
type Standin struct {
	Alias   string
	Options Options
	// Secrets are the keys of the Kubernetes secrets the configuration
	// names for the cluster, by SECRET/KEY, each with what reaches this
	// dev cluster: its CA, a client certificate and key it trusts, a SASL
	// password it knows.
	Secrets map[string][]byte
}

// Standins returns a stand-in for each cluster of cfg whose alias is in
// aliases (every cluster when aliases is empty), started from base: its
// broker count, topics and data directory (a folder per cluster under
// it). cfg must be loaded with config.Options.Unresolved, so that its
// secrets are named and not read. Only secrets can be made up: a file,
// environment variable or password written in the configuration is an
// error naming it, as is a secret key two clusters share.
func Standins(cfg *config.Config, aliases []string, base Options) ([]Standin, error) {
	for _, a := range aliases {
		if cfg.Cluster(a) == nil {
			return nil, fmt.Errorf("%s has no cluster %q", cfg.Path, a)
		}
	}
	var errs []error
	var out []Standin
	owner := map[string]string{} // secret key → the alias that names it
	for _, c := range cfg.Clusters {
		if len(aliases) > 0 && !slices.Contains(aliases, c.Alias) {
			continue
		}
		var refs []config.Reference
		for _, r := range cfg.References {
			switch {
			case r.Cluster != c.Alias:
			case r.Kind != config.RefSecret:
				errs = append(errs, fmt.Errorf("%s: %s: dev-cluster makes up Kubernetes secrets only: name a secret", r.At, r))
			case owner[r.Name+"/"+r.Key] != "":
				errs = append(errs, fmt.Errorf("%s: %s is named by clusters %q and %q: each dev cluster makes its own", r.At, r, owner[r.Name+"/"+r.Key], c.Alias))
			default:
				owner[r.Name+"/"+r.Key] = c.Alias
				refs = append(refs, r)
			}
		}
		s, err := standin(c, refs, base)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %q: %w", c.Alias, err))
			continue
		}
		out = append(out, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// standin makes the stand-in of cluster c, whose secret references are
// refs.
func standin(c *config.Cluster, refs []config.Reference, base Options) (Standin, error) {
	s := Standin{Alias: c.Alias, Options: base, Secrets: map[string][]byte{}}
	o := &s.Options
	o.Listen = c.Bootstrap
	o.Users = slices.Clone(base.Users)
	if o.ClusterID == "" {
		o.ClusterID = c.Alias
	}
	if base.DataDir != "" {
		o.DataDir = filepath.Join(base.DataDir, c.Alias)
	}
	made := map[config.Use][]byte{}
	if c.TLS != nil {
		ca, err := pki.NewCA("kmirror dev-cluster CA of " + c.Alias)
		if err != nil {
			return Standin{}, err
		}
		o.TLS, o.CA, made[config.UseTrust] = true, ca, ca.PEM
		if c.TLS.MutualTLS() {
			// Strimzi's User Operator names a user's secret after the
			// user, the certificate's CN.
			client, err := ca.Issue(c.TLS.CertificateSecret)
			if err != nil {
				return Standin{}, err
			}
			o.ClientAuth, made[config.UseCertificate], made[config.UseKey] = true, client.CertPEM, client.KeyPEM
		}
	}
	if c.SASL != nil && c.SASL.OAuth != nil {
		return Standin{}, errors.New("dev-cluster cannot stand in for OAuth (SASL/OAUTHBEARER): its brokers know PLAIN and SCRAM users only")
	}
	if c.SASL != nil {
		password := rand.Text()
		o.Users = append(o.Users, c.SASL.Mechanism+":"+c.SASL.Username+":"+password)
		made[config.UsePassword] = []byte(password + "\n")
	}
	trusted := false
	for _, r := range refs {
		key := r.Key
		if r.Use == config.UseTrust {
			trusted = true
			// A trustedCertificates pattern: the CA goes in ca.crt, where
			// Strimzi's cluster CA secrets hold it.
			if strings.ContainsAny(key, `*?[\`) {
				if ok, err := path.Match(key, "ca.crt"); err != nil || !ok {
					return Standin{}, fmt.Errorf("%s: the pattern %q does not match ca.crt, where dev-cluster puts its CA", r.At, key)
				}
				key = "ca.crt"
			}
		}
		data, ok := made[r.Use]
		if !ok {
			return Standin{}, fmt.Errorf("%s: dev-cluster makes up no %s for %s", r.At, r.Use, r)
		}
		s.Secrets[r.Name+"/"+key] = data
	}
	if c.TLS != nil && !trusted {
		return Standin{}, errors.New("its TLS trusts the system's certificate authorities: name a secret in tls.trustedCertificates for dev-cluster's CA")
	}
	return s, nil
}

// marker marks a secrets directory that dev-cluster made, which it may
// write into again.
const marker = ".kmirror-dev-cluster"

// WriteSecrets writes the stand-ins' secrets under dir as Kubernetes
// mounts them, DIR/<secretName>/<key>, readable by the owner only. It
// refuses a directory that holds anything and that it did not make, so
// that it never overwrites real secrets.
func WriteSecrets(dir string, ss []Standin) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0 && !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == marker }):
		return fmt.Errorf("%s holds files dev-cluster did not make: give an empty or new directory", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	note := []byte("Made up by kmirror dev-cluster, anew at each start: no real secrets here.\n")
	if err := os.WriteFile(filepath.Join(dir, marker), note, 0o600); err != nil {
		return err
	}
	for _, s := range ss {
		for _, name := range slices.Sorted(maps.Keys(s.Secrets)) {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(p, s.Secrets[name], 0o600); err != nil {
				return fmt.Errorf("write secret %s: %w", name, err)
			}
		}
	}
	return nil
}
