package config

import (
	"errors"
	"slices"
	"testing"
)

// A misspelt required key is reported as the unknown key it is, with the
// key it most likely means, before the required key it leaves missing.
func TestMisspeltRequiredKey(t *testing.T) {
	tests := []struct {
		name string
		file string
		text string
		want []string // the errors, in order
	}{
		{
			name: "mirror",
			file: "native.yaml",
			text: `connectCluster: b
clusters:
  - {alias: a, bootstrapServers: "a:9092"}
  - {alias: b, bootstrapServers: "b:9092"}
mirror:
  - {sourceCluster: a, targetCluster: b}
`,
			want: []string{
				"mirror (line 5): unknown field; did you mean mirrors?",
				"mirrors (line 1): required",
				"no flows (mirrors) are defined",
			},
		},
		{
			name: "bootstrapServer",
			file: "native.yaml",
			text: `connectCluster: b
clusters:
  - {alias: a, bootstrapServers: "a:9092"}
  - alias: b
    bootstrapServer: b:9092
mirrors:
  - {sourceCluster: a, targetCluster: b}
`,
			want: []string{
				"clusters[1].bootstrapServer (line 5): unknown field; did you mean bootstrapServers?",
				"clusters[1].bootstrapServers (line 4): required",
			},
		},
		{
			name: "spec",
			file: "kmm2.yaml",
			text: `apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaMirrorMaker2
metadata: {name: m}
sepc: {}
`,
			want: []string{
				"sepc (line 4): unknown field; did you mean spec?",
				"spec (line 1): required",
				"no clusters are defined",
				"no flows (mirrors) are defined",
			},
		},
		{
			name: "v1 source",
			file: "kmm2.yaml",
			text: `apiVersion: kafka.strimzi.io/v1
kind: KafkaMirrorMaker2
metadata: {name: m}
spec:
  target: {alias: b, bootstrapServers: "b:9092"}
  mirrors:
    - sourc: {alias: a, bootstrapServers: "a:9092"}
`,
			want: []string{
				"spec.mirrors[0].sourc (line 7): unknown field; did you mean source?",
				"spec.mirrors[0].source (line 7): required",
				"no flows (mirrors) are defined",
			},
		},
		{
			name: "passwordSecret",
			file: "kmm2.yaml",
			text: `apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaMirrorMaker2
metadata: {name: m}
spec:
  connectCluster: b
  clusters:
    - {alias: a, bootstrapServers: "a:9092"}
    - alias: b
      bootstrapServers: b:9092
      authentication:
        type: scram-sha-512
        username: u
        passwordSecrets: {secretName: s, password: p}
  mirrors:
    - {sourceCluster: a, targetCluster: b}
`,
			want: []string{
				"spec.clusters[1].authentication.passwordSecrets (line 13): unknown field; did you mean passwordSecret?",
				"spec.clusters[1].authentication.passwordSecret (line 11): required",
			},
		},
		{
			name: "clusters in properties",
			file: "mm2.properties",
			text: "cluster = a, b\na->b.enabled = true\n",
			want: []string{
				"cluster (line 1): unknown key; did you mean clusters?",
				"clusters: required: the comma-separated cluster aliases",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.file, []byte(tt.text), Options{})
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse = %v, want a *config.Error", err)
			}
			var got []string
			for _, d := range cerr.Errors {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
