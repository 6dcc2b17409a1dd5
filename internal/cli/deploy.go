package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/kube"
)

func deployCmd(g *globals) *cobra.Command {
	cmd := subcommandsOnly(&cobra.Command{
		Use:   "deploy",
		Short: "Print what runs kmirror elsewhere (Kubernetes)",
	})
	cmd.AddCommand(deployKubernetesCmd(g))
	return cmd
}

func deployKubernetesCmd(g *globals) *cobra.Command {
	var path string
	var strict bool
	var o kube.Options
	cmd := &cobra.Command{
		Use:   "kubernetes -c FILE",
		Short: "Print the Kubernetes manifests that run kmirror workers for a KafkaMirrorMaker2 resource: kubectl apply -f -",
		Long: `Print the Kubernetes manifests that run kmirror workers for a KafkaMirrorMaker2
resource (or its spec as native YAML): the resource in a ConfigMap, a
Deployment of spec.replicas workers with the secrets the resource names
mounted as Strimzi mounts them, probes, a PodDisruptionBudget, a Service and
a PodMonitor. The secrets are not read: they only need to exist in the
namespace the pods run in.

  kmirror deploy kubernetes -c kmm2.yaml --image registry.example.com/kmirror:v1.0.0 | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path, config.Options{Unresolved: true, Strict: strict})
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			for _, d := range cfg.Diagnostics {
				if d.Level == config.LevelWarning {
					fmt.Fprintln(g.stderr, "warning:", d)
				}
			}
			for _, n := range notChecked(cfg) {
				fmt.Fprintln(g.stderr, "note:", n)
			}
			for _, w := range kube.Unreachable(cfg) {
				fmt.Fprintln(g.stderr, "warning:", w)
			}
			o.Version, o.Source = version, filepath.Base(path)
			if !cmd.Flags().Changed("image") {
				// Kept for the scripts and the kustomization that rewrite
				// it, but no registry serves it: say how to get one.
				o.Image = "kmirror:" + version
				fmt.Fprintln(g.stderr, "warning:", noImage(o.Image))
			}
			out, err := kube.Manifests(cfg, o)
			if err != nil {
				return &exitError{code: ExitFailure, err: fmt.Errorf("%s: %w", path, err)}
			}
			_, err = g.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "a Strimzi KafkaMirrorMaker2 resource, or its spec as native YAML (required)")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings (unknown keys, …) as errors")
	_ = cmd.MarkFlagRequired("config")
	cmd.Flags().StringVar(&o.Image, "image", "", `container image (default "kmirror:<version>", which no registry serves; build and push one with go run ./deploy/image -push REGISTRY/kmirror:TAG)`)
	cmd.Flags().StringVar(&o.Name, "name", "", `name of the objects (default "<metadata.name>-kmirror")`)
	cmd.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "namespace of the objects, where the secrets are (default: the resource's)")
	cmd.Flags().IntVar(&o.Replicas, "replicas", 0, "workers (default: the resource's spec.replicas, or 1)")
	cmd.Flags().IntVar(&o.Partitions, "partitions", 0, "the most source partitions one flow selects, for the memory limit (default: assume tasks.max per worker)")
	cmd.Flags().StringVar(&o.WebSecret, "web-config-secret", "", "a Secret with web-config.yml (TLS, basic auth) securing the HTTP endpoints, and username, password, ca.crt for Prometheus")
	return cmd
}

// noImage is the warning for manifests made without --image.
func noImage(image string) string {
	return fmt.Sprintf("no --image: the pods run %q, which no registry serves; build and push an image from kmirror's source tree "+
		"with \"go run ./deploy/image -push REGISTRY/kmirror:TAG\" and give --image REGISTRY/kmirror:TAG (or set the image with kustomize's images:)", image)
}
