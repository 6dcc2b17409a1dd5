package kube

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mirror"
)

// Where the pods find what kmirror reads, and the ports it serves.
const (
	ConfigDir    = "/etc/kmirror/config"
	ConfigKey    = "config.yaml" // the ConfigMap's key, a file in ConfigDir
	SecretsDir   = "/etc/kmirror/secrets"
	WebDir       = "/etc/kmirror/web"
	WebConfigKey = "web-config.yml" // the web configuration's key in its Secret, a file in WebDir
	// ServiceAccountDir is where Kubernetes mounts the pod's service
	// account token, when asked to.
	ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	HTTPPort          = 9721
	ProbesPort        = 9722
	containerName     = "kmirror"
)

// Grace is how long Kubernetes waits after SIGTERM before it kills a
// worker: its clean stop (acknowledgements, progress, leaving the group)
// takes at most mirror.StopTimeout, and the HTTP server stops meanwhile.
var Grace = mirror.StopTimeout + 30*time.Second

// Options are the choices the configuration does not make.
type Options struct {
	// Image is the container image, e.g. registry.example.com/kmirror:v1.0.0.
	Image string
	// Name names the objects; "" takes the resource's metadata.name, plus
	// "-kmirror" ("kmirror" for a native configuration).
	Name string
	// Namespace of the objects; "" takes the resource's, or leaves it to
	// kubectl's.
	Namespace string
	// Replicas of the Deployment; 0 takes the resource's spec.replicas,
	// or 1.
	Replicas int
	// Partitions is the most source partitions one flow selects, for the
	// memory limit; 0 assumes tasks.max per worker.
	Partitions int
	// WebSecret names a Secret holding a web configuration (WebConfigKey)
	// and what it names: the HTTP endpoints then ask for what it says, the
	// probes move to ProbesPort and the PodMonitor scrapes with its
	// username, password and ca.crt.
	WebSecret string
	// Version labels the objects (kmirror's version).
	Version string
	// Source names the configuration file in the header.
	Source string
}

// Manifests renders the objects that run cfg's workers on Kubernetes, as
// one YAML stream. cfg must be loaded with config.Options.Unresolved:
// only what a pod can be given (the resource and its secrets) goes in,
// and a file, environment variable or password of this machine that the
// configuration names is an error naming it.
func Manifests(cfg *config.Config, o Options) ([]byte, error) {
	switch {
	case cfg.Format == config.FormatProperties:
		return nil, errors.New("Kubernetes manifests take a KafkaMirrorMaker2 resource or its spec as native YAML; an MM2 properties file names files and passwords of this machine (convert it to the resource's YAML)")
	case cfg.Document == nil:
		return nil, errors.New("the configuration was not loaded unresolved: its document is missing")
	}
	var errs []error
	secrets := map[string]bool{}
	for _, r := range cfg.References {
		switch r.Kind {
		case config.RefSecret:
			secrets[r.Name] = true
		case config.RefFile:
			errs = append(errs, fmt.Errorf("%s: the file %s is on this machine, not in the pod: name a Kubernetes secret instead (secretName)", r.At, r.Name))
		case config.RefEnv:
			errs = append(errs, fmt.Errorf("%s: the environment variable %s is this machine's: name a Kubernetes secret instead (passwordSecret)", r.At, r.Name))
		case config.RefInline:
			errs = append(errs, fmt.Errorf("%s: a password written in the configuration would land in a ConfigMap: put it in a Kubernetes secret (passwordSecret)", r.At))
		}
	}
	// A token file can only be the service account's, which Kubernetes
	// mounts: the manifests give the pod nothing else of this machine.
	var saToken bool
	for _, c := range cfg.Clusters {
		if c.SASL == nil || c.SASL.OAuth == nil || c.SASL.OAuth.AccessTokenFile == "" {
			continue
		}
		if f := c.SASL.OAuth.AccessTokenFile; strings.HasPrefix(f, ServiceAccountDir+"/") {
			saToken = true
		} else {
			errs = append(errs, fmt.Errorf("cluster %q: the access token file %s is not in the pod: give the token in a Kubernetes secret (accessToken), or use the service account's (%s/token)", c.Alias, f, ServiceAccountDir))
		}
	}
	d := data{Image: o.Image, ServiceAccountToken: saToken, Version: o.Version, Source: o.Source, Namespace: o.Namespace, Web: o.WebSecret,
		HTTPPort: HTTPPort, ProbesPort: ProbesPort, Grace: int(Grace / time.Second)}
	d.Name = o.Name
	if d.Name == "" {
		d.Name = "kmirror"
		if cfg.Name != "" {
			d.Name = cfg.Name + "-kmirror"
		}
	}
	if !dns1035.MatchString(d.Name) || len(d.Name) > 63 {
		errs = append(errs, fmt.Errorf("%q cannot name the objects (lower case letters, digits and '-', starting with a letter, at most 63): give --name", d.Name))
	}
	if d.Namespace == "" {
		d.Namespace = cfg.Namespace
	}
	if o.WebSecret != "" && !dns1123.MatchString(o.WebSecret) {
		errs = append(errs, fmt.Errorf("%q is not a Secret name", o.WebSecret))
	}
	if o.Image == "" {
		errs = append(errs, errors.New("no container image given"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	d.Replicas = o.Replicas
	if d.Replicas <= 0 {
		d.Replicas = max(cfg.Replicas, 1)
	}
	d.Labels = [][2]string{{"app.kubernetes.io/name", "kmirror"}, {"app.kubernetes.io/instance", d.Name}}
	d.Selector = d.Labels
	if labelValue.MatchString(o.Version) {
		d.Labels = append(slices.Clip(d.Labels), [2]string{"app.kubernetes.io/version", o.Version})
	}
	// Trailing blanks can only be in comments: the encoder quotes values
	// that end in one.
	for line := range strings.Lines(strings.TrimRight(string(cfg.Document), "\n")) {
		d.Document = append(d.Document, strings.TrimRight(line, " \t\r\n"))
	}
	sum := sha256.Sum256(cfg.Document)
	d.ConfigHash = hex.EncodeToString(sum[:])
	for i, name := range slices.Sorted(maps.Keys(secrets)) {
		d.Secrets = append(d.Secrets, mount{Volume: fmt.Sprintf("secret-%d", i), Secret: name, Path: path.Join(SecretsDir, name)})
	}
	d.Args = []string{"run", "-c", path.Join(ConfigDir, ConfigKey), "--http", fmt.Sprintf(":%d", HTTPPort), "--log-format", "json"}
	// The same for `kubectl exec … kmirror status` and the other commands.
	d.Env = []envVar{{config.EnvFile, path.Join(ConfigDir, ConfigKey)}}
	if len(d.Secrets) > 0 {
		d.Args = append(d.Args, "--secrets-dir", SecretsDir)
		d.Env = append(d.Env, envVar{config.EnvSecretsDir, SecretsDir})
	}
	d.ProbePort = "http"
	if o.WebSecret != "" {
		d.Args = append(d.Args, "--web-config-file", path.Join(WebDir, WebConfigKey), "--probes", fmt.Sprintf(":%d", ProbesPort))
		d.ProbePort = "probes"
	}
	d.Memory = workerMemory(cfg, d.Replicas, o.Partitions)
	d.GoMemLimit = fmt.Sprintf("%dMiB", d.Memory.limit*9/10>>20)

	var b bytes.Buffer
	if err := manifests.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("render manifests: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

var (
	dns1035    = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	dns1123    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelValue = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
)

// data is what the template renders.
type data struct {
	Name, Namespace, Image, Version, Source string
	Labels, Selector                        [][2]string
	Replicas                                int
	Document                                []string
	ConfigHash                              string
	Args                                    []string
	Env                                     []envVar
	Secrets                                 []mount
	Memory                                  memory
	GoMemLimit                              string
	Grace                                   int
	Web                                     string
	HTTPPort, ProbesPort                    int
	ProbePort                               string
	ServiceAccountToken                     bool
}

// Constants the template shows.
func (data) ConfigKey() string     { return ConfigKey }
func (data) ConfigDir() string     { return ConfigDir }
func (data) WebDir() string        { return WebDir }
func (data) StopTimeout() int      { return int(mirror.StopTimeout / time.Second) }
func (d data) MemoryLimit() string { return quantity(d.Memory.limit) }

// mount is a secret the configuration names, mounted as Strimzi mounts it:
// a file per key, in a folder named after the secret.
type mount struct{ Volume, Secret, Path string }

// q quotes a string for YAML (JSON's quoting is YAML's).
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

var manifests = template.Must(template.New("manifests").Funcs(template.FuncMap{
	"q": q,
}).Parse(manifestsTemplate))

// envVar is one environment variable of the worker's container.
type envVar struct{ Name, Value string }

// Unreachable warns of each cluster of cfg whose bootstrap servers a pod
// cannot reach as written: loopback addresses name the pod itself.
func Unreachable(cfg *config.Config) []string {
	var out []string
	for _, c := range cfg.Clusters {
		for _, b := range c.Bootstrap {
			host, _, err := net.SplitHostPort(b)
			if err != nil {
				host = b
			}
			ip := net.ParseIP(host)
			if host == "localhost" || ip != nil && ip.IsLoopback() {
				out = append(out, fmt.Sprintf("cluster %q: bootstrap server %s is this machine's loopback: a pod reaches itself there, not Kafka; give the brokers' Service (e.g. my-cluster-kafka-bootstrap:9093)", c.Alias, b))
			}
		}
	}
	return out
}
