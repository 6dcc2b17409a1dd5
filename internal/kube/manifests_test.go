package kube_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/kube"
	"github.com/kmirror/kmirror/internal/kube/kubetest"
	"github.com/kmirror/kmirror/internal/mirror"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const seed = "../config/testdata/seed-kmm2.yaml"

// render loads a configuration unresolved and renders it.
func render(t *testing.T, file string, o kube.Options) (*config.Config, []byte) {
	t.Helper()
	cfg, err := config.Load(file, config.Options{Unresolved: true})
	if err != nil {
		t.Fatal(err)
	}
	if o.Image == "" {
		o.Image, o.Version = "kmirror:dev", "dev"
	}
	o.Source = filepath.Base(file)
	out, err := kube.Manifests(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, out
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the manifests differ from %s (go test ./internal/kube -update rewrites it):\n%s", file, got)
	}
}

// TestSeedManifests: the seed's resource renders to the golden
// deploy/kubernetes/kmirror.yaml (and, with a web configuration, to
// deploy/kubernetes/secured/kmirror.yaml), which decode strictly into the Kubernetes
// API types and hang together.
func TestSeedManifests(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		o            kube.Options
	}{
		{"plain", "../../deploy/kubernetes/kmirror.yaml", kube.Options{}},
		{"secured", "../../deploy/kubernetes/secured/kmirror.yaml", kube.Options{WebSecret: "kmirror-web", Namespace: "kafka", Partitions: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, out := render(t, seed, tc.o)
			golden(t, tc.golden, out)
			o := kubetest.Decode(t, out)
			check(t, cfg, o, tc.o)
		})
	}
}

// check asserts what the manifests promise, object by object.
func check(t *testing.T, cfg *config.Config, o kubetest.Objects, opts kube.Options) {
	t.Helper()
	d := o.Deployment
	pod := d.Spec.Template
	for _, m := range []struct {
		kind, name, namespace string
		labels                map[string]string
	}{
		{"ConfigMap", o.ConfigMap.Name, o.ConfigMap.Namespace, o.ConfigMap.Labels},
		{"Deployment", d.Name, d.Namespace, d.Labels},
		{"PodDisruptionBudget", o.PDB.Name, o.PDB.Namespace, o.PDB.Labels},
		{"Service", o.Service.Name, o.Service.Namespace, o.Service.Labels},
		{"PodMonitor", o.PodMonitor.Name, o.PodMonitor.Namespace, o.PodMonitor.Labels},
	} {
		if errs := validation.IsDNS1035Label(m.name); len(errs) > 0 {
			t.Errorf("%s name %q: %v", m.kind, m.name, errs)
		}
		if m.namespace != opts.Namespace {
			t.Errorf("%s namespace %q, want %q", m.kind, m.namespace, opts.Namespace)
		}
		for k, v := range m.labels {
			if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
				t.Errorf("%s label %s=%s: %v", m.kind, k, v, errs)
			}
		}
	}

	// Replicas from the resource; every selector selects the pods.
	if d.Spec.Replicas == nil || int(*d.Spec.Replicas) != cfg.Replicas {
		t.Errorf("replicas %v, want spec.replicas %d", d.Spec.Replicas, cfg.Replicas)
	}
	for what, sel := range map[string]map[string]string{
		"Deployment": d.Spec.Selector.MatchLabels, "PodDisruptionBudget": o.PDB.Spec.Selector.MatchLabels,
		"Service": o.Service.Spec.Selector, "PodMonitor": o.PodMonitor.Spec.Selector.MatchLabels,
	} {
		if len(sel) == 0 {
			t.Errorf("%s selects every pod", what)
		}
		for k, v := range sel {
			if pod.Labels[k] != v {
				t.Errorf("%s selects %s=%s, which the pods do not carry", what, k, v)
			}
		}
	}
	if o.PDB.Spec.MaxUnavailable == nil || o.PDB.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("the disruption budget: %+v", o.PDB.Spec)
	}

	// Ports and probes: every port named exists on the container.
	c := o.Container(t)
	http := o.Port(t, "http")
	for what, port := range map[string]string{
		"Service targetPort": o.Service.Spec.Ports[0].TargetPort.String(), "PodMonitor port": *o.PodMonitor.Spec.PodMetricsEndpoints[0].Port,
		"liveness probe": c.LivenessProbe.HTTPGet.Port.String(), "readiness probe": c.ReadinessProbe.HTTPGet.Port.String(),
	} {
		o.Port(t, port)
		if errs := validation.IsValidPortName(port); len(errs) > 0 {
			t.Errorf("%s %q: %v", what, port, errs)
		}
	}
	if o.Service.Spec.Ports[0].Port != http || http != kube.HTTPPort {
		t.Errorf("service port %d, container port %d", o.Service.Spec.Ports[0].Port, http)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" || o.PodMonitor.Spec.PodMetricsEndpoints[0].Path != "/metrics" {
		t.Error("probe or metrics paths")
	}
	probes := "http"
	if opts.WebSecret != "" {
		probes = "probes"
		ep := o.PodMonitor.Spec.PodMetricsEndpoints[0]
		if ep.Scheme == nil || strings.ToLower(string(*ep.Scheme)) != "https" || ep.BasicAuth == nil || ep.BasicAuth.Username.Name != opts.WebSecret ||
			ep.TLSConfig == nil || ep.TLSConfig.CA.Secret == nil || ep.TLSConfig.CA.Secret.Name != opts.WebSecret {
			t.Errorf("the PodMonitor does not scrape with the web secret's credentials: %+v", ep)
		}
	}
	if c.LivenessProbe.HTTPGet.Port.String() != probes || c.ReadinessProbe.HTTPGet.Port.String() != probes {
		t.Errorf("the probes use port %s, want %s", c.LivenessProbe.HTTPGet.Port.String(), probes)
	}

	// The configuration in the ConfigMap is the resource, and its
	// volume is mounted.
	doc, ok := o.ConfigMap.Data[kube.ConfigKey]
	if !ok {
		t.Fatalf("the ConfigMap has no %s", kube.ConfigKey)
	}
	again, err := config.Parse(kube.ConfigKey, []byte(doc), config.Options{Unresolved: true})
	if err != nil {
		t.Fatalf("the ConfigMap's configuration does not load: %v", err)
	}
	if !reflect.DeepEqual(again.Flows, cfg.Flows) || !reflect.DeepEqual(again.Clusters, cfg.Clusters) || again.Replicas != cfg.Replicas {
		t.Error("the ConfigMap's configuration differs from the resource")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{} // path → what is mounted there
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		switch {
		case !ok:
			t.Errorf("mount %s names no volume", m.Name)
		case !m.ReadOnly:
			t.Errorf("mount %s is writable", m.Name)
		case v.ConfigMap != nil:
			mounts[m.MountPath] = "configmap " + v.ConfigMap.Name
		case v.Secret != nil:
			mounts[m.MountPath] = "secret " + v.Secret.SecretName
		}
	}
	if mounts[kube.ConfigDir] != "configmap "+o.ConfigMap.Name {
		t.Errorf("%s holds %q, not the ConfigMap %s", kube.ConfigDir, mounts[kube.ConfigDir], o.ConfigMap.Name)
	}
	// Every secret the resource names is mounted where --secrets-dir
	// finds it, and none else.
	var want []string
	for _, r := range cfg.References {
		want = append(want, r.Name)
		if mounts[path.Join(kube.SecretsDir, r.Name)] != "secret "+r.Name {
			t.Errorf("secret %s (%s) is not mounted at %s", r.Name, r.At, path.Join(kube.SecretsDir, r.Name))
		}
	}
	slices.Sort(want)
	var got []string
	for p, what := range mounts {
		if s, ok := strings.CutPrefix(what, "secret "); ok && path.Dir(p) == kube.SecretsDir {
			got = append(got, s)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, slices.Compact(want)) {
		t.Errorf("secrets mounted %v, the resource names %v", got, slices.Compact(want))
	}
	if opts.WebSecret != "" && mounts[kube.WebDir] != "secret "+opts.WebSecret {
		t.Errorf("the web secret is not mounted at %s: %v", kube.WebDir, mounts)
	}

	// Least privilege, a clean stop, memory.
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context: %+v", sc)
	}
	if ps := pod.Spec.SecurityContext; ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil {
		t.Errorf("pod security context: %+v", ps)
	}
	saToken := slices.ContainsFunc(cfg.Clusters, func(c *config.Cluster) bool {
		return c.SASL != nil && c.SASL.OAuth != nil && strings.HasPrefix(c.SASL.OAuth.AccessTokenFile, kube.ServiceAccountDir+"/")
	})
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken != saToken {
		t.Errorf("the pod mounts the service account token: %v, want %v (its token is an access token)", pod.Spec.AutomountServiceAccountToken, saToken)
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g <= int64(mirror.StopTimeout.Seconds()) {
		t.Errorf("termination grace %v s, not above the clean stop's %s", g, mirror.StopTimeout)
	}
	limit, request := c.Resources.Limits[corev1.ResourceMemory], c.Resources.Requests[corev1.ResourceMemory]
	if limit.IsZero() || limit.Cmp(request) != 0 {
		t.Errorf("memory limit %s, request %s", limit.String(), request.String())
	}
	var gomem string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			gomem = e.Value
		}
	}
	if q, err := resource.ParseQuantity(strings.TrimSuffix(gomem, "B")); err != nil || q.Cmp(limit) >= 0 {
		t.Errorf("GOMEMLIMIT %q is not below the limit %s", gomem, limit.String())
	}
}

// TestMemoryLimit: the limit follows the README's formula, per flow.
func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions int
		want       string
	}{
		// 2 × 225000000 + 3 × 32 tasks × 2 × 1 MiB (64 partitions assumed on one worker)
		// = 651 303 936 B; × 2.75 + 64 MiB = 1772.2 MiB → 1792 MiB.
		{"assumed", 0, "1792Mi"},
		// 20 partitions: 20 tasks of one: 2 × 225000000 + 3 × 20 × 1 MiB
		// = 512 914 560 B; × 2.75 + 64 MiB = 1409.2 MiB → 1472 MiB.
		{"few", 20, "1472Mi"},
		// 3200 partitions: 100 per task, so a fetch holds fetch.max.bytes
		// (50 MiB): 2 × 225000000 + 3 × 32 × 50 MiB = 5 483 164 800 B;
		// × 2.75 + 64 MiB = 14 444.4 MiB → 14 464 MiB.
		{"many", 3200, "14464Mi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out := render(t, seed, kube.Options{Partitions: tc.partitions})
			c := kubetest.Decode(t, out).Container(t)
			if got := c.Resources.Limits[corev1.ResourceMemory]; got.String() != tc.want {
				t.Errorf("memory limit %s, want %s", got.String(), tc.want)
			}
		})
	}
}

// TestManifestsRefuse: what a pod cannot be given is one error naming
// where the configuration names it.
func TestManifestsRefuse(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	native := "../config/testdata/local-references.yaml"
	props := write("mm2.properties", "clusters = a, b\na.bootstrap.servers = a:9092\nb.bootstrap.servers = b:9092\na->b.enabled = true\n")
	for _, tc := range []struct {
		name, file string
		o          kube.Options
		want       []string
	}{
		{"files, variables and passwords", native, kube.Options{Image: "i"}, []string{
			"clusters[0].tls.caFile (line 9): the file /etc/ca.pem is on this machine",
			"clusters[0].authentication.passwordEnv (line 16): the environment variable A_PASSWORD",
			"clusters[1].authentication.password (line 22): a password written in the configuration would land in a ConfigMap"}},
		{"properties", props, kube.Options{Image: "i"}, []string{"an MM2 properties file"}},
		{"name", seed, kube.Options{Image: "i", Name: "My_Mirror"}, []string{`"My_Mirror" cannot name the objects`}},
		{"no image", seed, kube.Options{}, []string{"no container image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(tc.file, config.Options{Unresolved: true})
			if err != nil {
				t.Fatal(err)
			}
			_, err = kube.Manifests(cfg, tc.o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "not-this") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestKustomization: deploy/kubernetes/kustomization.yaml names the
// manifests and the image they use.
func TestKustomization(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace"`
		Resources  []string
		Images     []struct {
			Name    string `json:"name"`
			NewName string `json:"newName"`
			NewTag  string `json:"newTag"`
		}
	}
	if err := sigsyaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatal(err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" || len(k.Images) != 1 {
		t.Fatalf("%+v", k)
	}
	for _, r := range k.Resources {
		manifests, err := os.ReadFile(filepath.Join("../../deploy/kubernetes", r))
		if err != nil {
			t.Fatal(err)
		}
		image := kubetest.Decode(t, manifests).Container(t).Image
		if name, _, _ := strings.Cut(image, ":"); name != k.Images[0].Name {
			t.Errorf("the kustomization sets image %q; the Deployment runs %q", k.Images[0].Name, image)
		}
	}
}

// OAuth: the client secret, the refresh token, the access token and the
// token endpoint's trusted certificates are secrets the pods mount like
// the others; the service account's token is mounted when it is the
// access token, and another file of this machine is refused.
func TestOAuthManifests(t *testing.T) {
	opts := kube.Options{Namespace: "kafka"}
	cfg, out := render(t, "../config/testdata/oauth-kmm2.yaml", opts)
	check(t, cfg, kubetest.Decode(t, out), opts)
	for _, s := range []string{"kmirror-oauth", "kmirror-oauth-refresh", "sso-ca"} {
		if !strings.Contains(string(out), "secretName: "+s+"\n") {
			t.Errorf("the secret %s is not mounted:\n%s", s, out)
		}
	}

	dir := t.TempDir()
	token := func(auth string) string {
		path := filepath.Join(dir, fmt.Sprintf("kmm2-%d.yaml", len(auth)))
		text := `apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaMirrorMaker2
metadata:
  name: token
spec:
  replicas: 1
  connectCluster: target
  clusters:
    - alias: source
      bootstrapServers: source-kafka-bootstrap:9092
    - alias: target
      bootstrapServers: target-kafka-bootstrap:9093
      authentication:
        type: oauth
` + auth + `  mirrors:
    - sourceCluster: source
      targetCluster: target
`
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, auth := range []string{
		"        accessToken: {secretName: kmirror-token, key: token}\n",
		"        accessTokenLocation: /var/run/secrets/kubernetes.io/serviceaccount/token\n",
	} {
		cfg, out := render(t, token(auth), kube.Options{})
		check(t, cfg, kubetest.Decode(t, out), kube.Options{})
	}
	cfg, err := config.Load(token("        accessTokenLocation: /home/me/token\n"), config.Options{Unresolved: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kube.Manifests(cfg, kube.Options{Image: "kmirror:dev"})
	if want := `cluster "target": the access token file /home/me/token is not in the pod`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Manifests = %v, want %q", err, want)
	}
}
