// Package kubetest decodes kmirror's Kubernetes manifests strictly into the
// Kubernetes API types, for tests: a field the API does not have, a
// duplicate key or an unknown kind fails the test.
package kubetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// Objects are the manifests kmirror renders, one of each kind.
type Objects struct {
	ConfigMap  *corev1.ConfigMap
	Deployment *appsv1.Deployment
	PDB        *policyv1.PodDisruptionBudget
	Service    *corev1.Service
	PodMonitor *monitoringv1.PodMonitor
}

// Decode is Parse failing the test on an error.
func Decode(t testing.TB, stream []byte) Objects {
	t.Helper()
	o, err := Parse(stream)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Parse splits a YAML stream into documents and decodes each strictly
// into the type its apiVersion and kind name; a kind missing or repeated
// is an error too.
func Parse(stream []byte) (Objects, error) {
	var o Objects
	dec := yaml.NewDecoder(bytes.NewReader(stream))
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return o, fmt.Errorf("document %d: %w", i, err)
		}
		raw, err := yaml.Marshal(&doc)
		if err != nil {
			return o, fmt.Errorf("document %d: %w", i, err)
		}
		// YAMLToJSONStrict refuses duplicate keys, which YAML decoders
		// otherwise resolve silently (the last wins).
		js, err := sigsyaml.YAMLToJSONStrict(raw)
		if err != nil {
			return o, fmt.Errorf("document %d: %w", i, err)
		}
		var head struct{ APIVersion, Kind string }
		if err := json.Unmarshal(js, &head); err != nil {
			return o, fmt.Errorf("document %d: %w", i, err)
		}
		var into any
		var seen bool
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			seen, o.ConfigMap = o.ConfigMap != nil, &corev1.ConfigMap{}
			into = o.ConfigMap
		case "apps/v1 Deployment":
			seen, o.Deployment = o.Deployment != nil, &appsv1.Deployment{}
			into = o.Deployment
		case "policy/v1 PodDisruptionBudget":
			seen, o.PDB = o.PDB != nil, &policyv1.PodDisruptionBudget{}
			into = o.PDB
		case "v1 Service":
			seen, o.Service = o.Service != nil, &corev1.Service{}
			into = o.Service
		case "monitoring.coreos.com/v1 PodMonitor":
			seen, o.PodMonitor = o.PodMonitor != nil, &monitoringv1.PodMonitor{}
			into = o.PodMonitor
		default:
			return o, fmt.Errorf("document %d: unexpected %s %s", i, head.APIVersion, head.Kind)
		}
		if seen {
			return o, fmt.Errorf("document %d: a second %s", i, head.Kind)
		}
		if err := strict(js, into); err != nil {
			return o, fmt.Errorf("document %d (%s): %w", i, head.Kind, err)
		}
	}
	if o.ConfigMap == nil || o.Deployment == nil || o.PDB == nil || o.Service == nil || o.PodMonitor == nil {
		return o, fmt.Errorf("missing kinds: %+v", o)
	}
	return o, nil
}

// strict decodes JSON refusing unknown fields and trailing data.
func strict(js []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the object")
	}
	return nil
}

// Container is the Deployment's one container.
func (o Objects) Container(t testing.TB) *corev1.Container {
	t.Helper()
	cs := o.Deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers", len(cs))
	}
	return &cs[0]
}

// Port is the container port with the name.
func (o Objects) Port(t testing.TB, name string) int32 {
	t.Helper()
	for _, p := range o.Container(t).Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("no container port %q", name)
	return 0
}
