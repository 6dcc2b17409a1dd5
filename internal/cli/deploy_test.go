package cli

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kmirror/kmirror/internal/httpapi"
	"github.com/kmirror/kmirror/internal/kube"
	"github.com/kmirror/kmirror/internal/kube/kubetest"
	"github.com/kmirror/kmirror/internal/testbed"
)

const seedResource = "../config/testdata/seed-kmm2.yaml"

// TestDeployKubernetesGolden: the generator's output for the seed's
// resource is deploy/kubernetes/kmirror.yaml, with the image it is given;
// without --image, a warning says how to build and push one.
func TestDeployKubernetesGolden(t *testing.T) {
	code, out, errOut := execute(t, t.Context(), "deploy", "kubernetes", "-c", seedResource)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, err := os.ReadFile("../../deploy/kubernetes/kmirror.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The golden file is rendered by a "dev" build, as tests are.
	if out != string(want) {
		t.Errorf("the output differs from deploy/kubernetes/kmirror.yaml (go test ./internal/kube -update rewrites it):\n%s", out)
	}
	if !strings.Contains(errOut, `did you mean producer.acks?`) || strings.Contains(errOut, "loopback") {
		t.Errorf("the resource's warnings are not shown, or a loopback warned of that is not there: %q", errOut)
	}
	noImage := `warning: no --image: the pods run "kmirror:dev", which no registry serves; build and push an image from kmirror's source tree with "go run ./deploy/image -push REGISTRY/kmirror:TAG" and give --image REGISTRY/kmirror:TAG`
	if !strings.Contains(errOut, noImage) {
		t.Errorf("no warning that kmirror:dev is served by no registry:\n%s", errOut)
	}
	// A laptop's configuration: a pod cannot reach 127.0.0.1.
	code, _, errOut = execute(t, t.Context(), "deploy", "kubernetes", "-c", "../../examples/quickstart.yaml")
	if code != 0 || !strings.Contains(errOut, `warning: cluster "source": bootstrap server 127.0.0.1:9092 is this machine's loopback: a pod reaches itself there`) {
		t.Errorf("loopback bootstrap servers: exit %d, %q", code, errOut)
	}
	code, out, errOut = execute(t, t.Context(), "deploy", "kubernetes", "-c", seedResource, "--image", "registry.example.com/kmirror:v9")
	if code != 0 || kubetest.Decode(t, []byte(out)).Container(t).Image != "registry.example.com/kmirror:v9" {
		t.Errorf("--image is not the container's image (exit %d)", code)
	}
	if strings.Contains(errOut, "--image") {
		t.Errorf("a warning about --image, which was given:\n%s", errOut)
	}
	code, _, errOut = execute(t, t.Context(), "deploy", "kubernetes", "-c", "../config/testdata/mm2.properties")
	if code != ExitFailure || !strings.Contains(errOut, "MM2 properties") {
		t.Errorf("a properties file: exit %d, %q", code, errOut)
	}
}

// TestDeployKubernetesMatchesRun: what the manifests tell the container
// is what kmirror run reads and serves. The container's arguments parse
// with run's own flags; the ports they serve are the container's; the
// probes' paths are answered; and a pod's files laid out from the volumes,
// with the seed's secrets in them, load with those flags.
func TestDeployKubernetesMatchesRun(t *testing.T) {
	for _, secured := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "secured"}[secured]
		t.Run(name, func(t *testing.T) {
			args := []string{"deploy", "kubernetes", "-c", seedResource}
			if secured {
				args = append(args, "--web-config-secret", "kmirror-web")
			}
			code, out, errOut := execute(t, t.Context(), args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			o := kubetest.Decode(t, []byte(out))
			c := o.Container(t)
			if len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != "run" {
				t.Fatalf("the container does not run the image's entrypoint with run: %q %q", c.Command, c.Args)
			}
			run, rest, err := newRoot(&globals{}).Find(c.Args)
			if err != nil || run.Name() != "run" {
				t.Fatalf("%q is not the run command: %v", c.Args, err)
			}
			if err := run.ParseFlags(rest); err != nil {
				t.Fatalf("run does not take the container's arguments %q: %v", c.Args, err)
			}
			flag := func(name string) string { return run.Flags().Lookup(name).Value.String() }

			// Ports: --http and --probes are the container's ports.
			port := func(addr string) int32 {
				_, p, err := net.SplitHostPort(addr)
				if err != nil {
					t.Fatalf("address %q: %v", addr, err)
				}
				n, _ := strconv.Atoi(p)
				return int32(n)
			}
			if got := port(flag("http")); got != o.Port(t, "http") {
				t.Errorf("--http serves on %d, the container port http is %d", got, o.Port(t, "http"))
			}
			probes := httpapi.Handler(httpapi.Options{})
			if secured {
				if got := port(flag("probes")); got != o.Port(t, "probes") {
					t.Errorf("--probes serves on %d, the container port probes is %d", got, o.Port(t, "probes"))
				}
				if flag("web-config-file") != filepath.Join(kube.WebDir, kube.WebConfigKey) {
					t.Errorf("--web-config-file %q", flag("web-config-file"))
				}
				probes = httpapi.Probes(httpapi.Options{})
			}
			// The probes' paths are served where they point.
			for _, p := range []string{c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path} {
				rec := httptest.NewRecorder()
				probes.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, p, nil))
				if rec.Code != http.StatusOK {
					t.Errorf("probe %s: %d", p, rec.Code)
				}
			}
			if p := o.PodMonitor.Spec.PodMetricsEndpoints[0].Path; p != "/metrics" {
				t.Errorf("the PodMonitor scrapes %s", p)
			}

			// The pod's files: the ConfigMap's keys and each secret's keys
			// in the folder its volume is mounted at.
			secrets, _ := testbed.SeedSecrets(t)
			root := t.TempDir()
			layOut := func(skip string) {
				volumes := map[string]string{}
				for _, v := range o.Deployment.Spec.Template.Spec.Volumes {
					switch {
					case v.ConfigMap != nil:
						volumes[v.Name] = "configmap"
					case v.Secret != nil:
						volumes[v.Name] = v.Secret.SecretName
					}
				}
				for _, m := range c.VolumeMounts {
					dir := filepath.Join(root, m.MountPath)
					switch src := volumes[m.Name]; {
					case src == "configmap":
						for k, v := range o.ConfigMap.Data {
							testbed.WriteFiles(t, dir, map[string][]byte{k: []byte(v)})
						}
					case src == skip, src == "kmirror-web":
					default:
						entries, err := os.ReadDir(filepath.Join(secrets, src))
						if err != nil {
							t.Fatalf("the volume %s mounts secret %q, which the seed does not name: %v", m.Name, src, err)
						}
						for _, e := range entries {
							data, err := os.ReadFile(filepath.Join(secrets, src, e.Name()))
							if err != nil {
								t.Fatal(err)
							}
							testbed.WriteFiles(t, dir, map[string][]byte{e.Name(): data})
						}
					}
				}
			}
			layOut("")
			code, stdout, errOut := execute(t, t.Context(), "validate", "-c", filepath.Join(root, flag("config")), "--secrets-dir", filepath.Join(root, flag("secrets-dir")))
			if code != 0 {
				t.Fatalf("the pod's configuration does not load with its secrets: exit %d\n%s%s", code, stdout, errOut)
			}
			for _, want := range []string{"client certificate from secret mm2-source-cluster", `SCRAM-SHA-512 as "kafka.mm2.migration-user", password ***`} {
				if !strings.Contains(stdout, want) {
					t.Errorf("validate does not show %q:\n%s", want, stdout)
				}
			}

			// Without one of the mounts, it does not.
			root = t.TempDir()
			layOut("mm2-target-cluster")
			code, _, _ = execute(t, t.Context(), "validate", "-c", filepath.Join(root, flag("config")), "--secrets-dir", filepath.Join(root, flag("secrets-dir")))
			if code == 0 {
				t.Error("the configuration loads without the target's password mounted")
			}
		})
	}
}
