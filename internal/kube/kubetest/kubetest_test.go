package kubetest

import (
	"os"
	"strings"
	"testing"
)

// TestParseIsStrict: a misspelt field, a duplicate key, a field in the
// wrong place, an unknown kind or a missing one is an error.
func TestParseIsStrict(t *testing.T) {
	good, err := os.ReadFile("../../../deploy/kubernetes/kmirror.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(good); err != nil {
		t.Fatalf("the seed's manifests: %v", err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"misspelt field", "terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", `unknown field "terminationGracePeriodSecond"`},
		{"field in the wrong place", "      enableServiceLinks: false", "      enableServiceLinks: false\n      readOnly: true", `unknown field "readOnly"`},
		{"duplicate key", "  maxUnavailable: 1\n", "  maxUnavailable: 1\n  maxUnavailable: 2\n", "maxUnavailable"},
		{"wrong type", "\n  replicas: 2\n", "\n  replicas: two\n", "replicas"},
		{"unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets", "unexpected policy/v1 PodDisruptionBudgets"},
		{"a kind twice", "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor", "apiVersion: v1\nkind: ConfigMap", "a second ConfigMap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tc.old, tc.new, 1)
			if bad == string(good) {
				t.Fatalf("%q is not in the manifests", tc.old)
			}
			_, err := Parse([]byte(bad))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %s", err, tc.want)
			}
		})
	}
	cut := string(good)[:strings.LastIndex(string(good), "---")]
	if _, err := Parse([]byte(cut)); err == nil || !strings.Contains(err.Error(), "missing kinds") {
		t.Errorf("without the PodMonitor: err = %v", err)
	}
}
