package cli

import (
	"strings"
	"testing"
)

// The seed's secrets, as a command that does not read them notes each.
var seedUnchecked = []string{
	"spec.clusters[0].tls.trustedCertificates[0].certificate (line 17): secret my-source-cluster-cluster-ca-cert/ca.crt: not checked (no --secrets-dir)",
	"spec.clusters[0].authentication.certificateAndKey.certificate (line 21): secret mm2-source-cluster/tls.crt: not checked (no --secrets-dir)",
	"spec.clusters[0].authentication.certificateAndKey.key (line 22): secret mm2-source-cluster/tls.key: not checked (no --secrets-dir)",
	"spec.clusters[1].tls.trustedCertificates[0].certificate (line 29): secret my-target-cluster-cluster-ca-cert/ca.crt: not checked (no --secrets-dir)",
	"spec.clusters[1].authentication.passwordSecret.password (line 34): secret mm2-target-cluster/password: not checked (no --secrets-dir)",
}

// TestWithoutSecretsDir: offline means offline. The commands that do not
// connect (validate, preflight --kafkauser, deploy kubernetes) take the
// seed's resource without --secrets-dir, as a Strimzi user has it before
// the User Operator made the users' secrets, and note each secret as not
// checked; --strict makes that an error. The commands that connect
// refuse it in one line naming a secret and --secrets-dir.
func TestWithoutSecretsDir(t *testing.T) {
	const needed = `kmirror: ` + seedResource + `: cluster "my-source-cluster": secret my-source-cluster-cluster-ca-cert/ca.crt and 4 more: not read (no --secrets-dir given); commands that connect (run, plan, preflight, …) need --secrets-dir DIR` + "\n"
	strict := make([]string, len(seedUnchecked))
	for i, s := range seedUnchecked {
		strict[i] = s + " (--strict)"
	}
	notes := make([]string, len(seedUnchecked))
	for i, s := range seedUnchecked {
		notes[i] = "note: " + s
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string   // of stdout, if any
		stdout []string // each in stdout
		stderr []string // each in stderr
		only   string   // the whole of stderr, if set
	}{
		{name: "validate", args: []string{"validate", "-c", seedResource}, code: ExitOK, golden: "validate-no-secrets-dir",
			stdout: append([]string{"valid: 1 flow, 2 clusters, 4 warnings; 5 secret keys not checked (no --secrets-dir)"}, seedUnchecked...)},
		{name: "validate --strict", args: []string{"validate", "-c", seedResource, "--strict"}, code: ExitFailure, golden: "validate-no-secrets-dir-strict",
			stdout: strict},
		{name: "preflight --kafkauser", args: []string{"preflight", "-c", seedResource, "--kafkauser"}, code: ExitOK, golden: "preflight-kafkauser-offline",
			stderr: notes},
		{name: "deploy kubernetes", args: []string{"deploy", "kubernetes", "-c", seedResource}, code: ExitOK,
			stdout: []string{"kind: Deployment", "--secrets-dir"}, stderr: notes},
		{name: "plan", args: []string{"plan", "-c", seedResource}, code: ExitFailure, only: needed},
		{name: "run", args: []string{"run", "-c", seedResource, "--http", ""}, code: ExitFailure, only: needed},
		{name: "preflight", args: []string{"preflight", "-c", seedResource}, code: ExitFailure, only: needed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := execute(t, t.Context(), tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tt.only != "" && errOut != tt.only {
				t.Errorf("stderr:\n%q\nwant\n%q", errOut, tt.only)
			}
			if tt.golden != "" {
				golden(t, tt.golden, out)
			}
		})
	}
}
