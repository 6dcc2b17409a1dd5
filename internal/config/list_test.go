package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// listItem is one KafkaMirrorMaker2, indented as an item of a List; its
// line numbers in the file follow the items before it.
const listItem = `- apiVersion: kafka.strimzi.io/v1beta2
  kind: KafkaMirrorMaker2
  metadata:
    name: %s
  spec:
    connectCluster: b
    clusters:
      - alias: a
        bootstrapServers: 127.0.0.1:9092
      - alias: b
        bootstrapServers: 127.0.0.1:9093
    mirrors:
      - {sourceCluster: a, targetCluster: b, topicsPattern: "%s"}
`

// kubectlList is what "kubectl get kmm2 -o yaml" prints, items indented
// as kubectl does not (both are YAML).
func kubectlList(items ...string) string {
	return "apiVersion: v1\nkind: List\nitems:\n" + strings.Join(items, "") + "metadata:\n  resourceVersion: \"\"\n"
}

func item(name, topics string) string {
	return fmt.Sprintf(listItem, name, topics)
}

const kafkaUser = `- apiVersion: kafka.strimzi.io/v1beta2
  kind: KafkaUser
  metadata: {name: mm2-user}
  spec: {}
`

// A List, as kubectl prints it without a name, is read when it holds one
// KafkaMirrorMaker2; diagnostics name the item and the line in the file.
func TestKubectlList(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		diags []string // all diagnostics of a loaded configuration
		errs  []string // each must appear in the error
	}{
		{
			name: "one item",
			yaml: kubectlList(item("mm2", "orders")),
		},
		{
			name:  "a KafkaUser beside it",
			yaml:  kubectlList(kafkaUser, item("mm2", "orders")),
			diags: []string{`warning: items[0] (line 4): KafkaUser "mm2-user" ignored: kmirror reads the KafkaMirrorMaker2`},
		},
		{
			name: "diagnostics point into the file",
			yaml: kubectlList(kafkaUser, item("mm2", "(unclosed")),
			errs: []string{`items[1].spec.mirrors[0].topicsPattern (line 20): "(unclosed" is not a valid regular expression`},
		},
		{
			name: "two",
			yaml: kubectlList(item("east", "a"), item("west", "b")),
			errs: []string{`items (line 4): the List holds 2 KafkaMirrorMaker2 resources (items[0] "east", items[1] "west"); kmirror reads one: pick it, e.g. kubectl get kmm2 NAME -o yaml`},
		},
		{
			name: "empty",
			yaml: "apiVersion: v1\nkind: List\nitems: []\n",
			errs: []string{`items (line 1): the List is empty: it holds no KafkaMirrorMaker2 resource`},
		},
		{
			name: "none",
			yaml: kubectlList(kafkaUser),
			errs: []string{`items (line 4): the List holds no KafkaMirrorMaker2 resource, only KafkaUser "mm2-user"`},
		},
		{
			name: "no items",
			yaml: "apiVersion: v1\nkind: List\n",
			errs: []string{`items (line 1): required: a List holds its resources in items`},
		},
		{
			name: "not v1",
			yaml: "apiVersion: v2\nkind: List\nitems: []\n",
			errs: []string{`apiVersion (line 1): "v2" is not the version of a Kubernetes List (v1)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("kmm2.yaml", []byte(tt.yaml), Options{})
			if tt.errs != nil {
				var cerr *Error
				if !errors.As(err, &cerr) {
					t.Fatalf("Parse = %v, want a *config.Error", err)
				}
				for _, w := range tt.errs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q:\n%s", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := diagStrings(cfg.Diagnostics); !slices.Equal(got, tt.diags) {
				t.Errorf("diagnostics %q, want %q", got, tt.diags)
			}
			if len(cfg.Flows) != 1 || cfg.Format != FormatStrimzi {
				t.Fatalf("flows %d, format %v", len(cfg.Flows), cfg.Format)
			}
		})
	}
}
