package main_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmirror/kmirror/internal/testbed"
)

// fakeKubectl answers the commands of secrets-from-kubectl.sh as kubectl
// does, from $FAKE_CLUSTER: <namespace>/kafkamirrormaker2/<name>.yaml and
// <namespace>/secret/<name>/<key>. As kubectl's jsonpath, it finds a key
// with dots only when they are escaped ({.data.tls\.crt}).
const fakeKubectl = `#!/bin/sh
set -eu
if [ $# -ne 7 ] || [ "$1" != get ] || [ "$4" != -n ] || [ "$6" != -o ]; then
	echo "fake kubectl: unexpected: $*" >&2
	exit 2
fi
kind=$2 name=$3 ns=$5 out=$7
case $kind in
kafkamirrormaker2)
	f=$FAKE_CLUSTER/$ns/kafkamirrormaker2/$name.yaml
	if [ "$out" != yaml ] || [ ! -f "$f" ]; then
		echo "Error from server (NotFound): kafkamirrormaker2s.kafka.strimzi.io \"$name\" not found" >&2
		exit 1
	fi
	cat "$f"
	;;
secret)
	d=$FAKE_CLUSTER/$ns/secret/$name
	if [ ! -d "$d" ]; then
		echo "Error from server (NotFound): secrets \"$name\" not found" >&2
		exit 1
	fi
	case $out in
	'jsonpath={.data.'*'}')
		key=${out#'jsonpath={.data.'}
		key=${key%'}'}
		# An unescaped dot is a path into the key's value: nothing.
		if printf '%s' "$key" | sed 's/\\\.//g' | grep -q '\.'; then
			exit 0
		fi
		key=$(printf '%s' "$key" | sed 's/\\\././g')
		if [ -f "$d/$key" ]; then
			base64 <"$d/$key" | tr -d '\n'
		fi
		;;
	'go-template={{range $k, $v := .data}}{{$k}}{{"\n"}}{{end}}')
		ls "$d"
		;;
	*)
		echo "fake kubectl: unexpected output $out" >&2
		exit 2
		;;
	esac
	;;
*)
	echo "fake kubectl: unexpected kind $kind" >&2
	exit 2
	;;
esac
`

// secretsScript runs examples/seed/secrets-from-kubectl.sh with POSIX
// sh, the fake kubectl on a cluster and kmirror, and returns its exit
// code, stdout and stderr.
func secretsScript(t *testing.T, cluster string, args ...string) (int, string, string) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(fakeKubectl), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", append([]string{"../../examples/seed/secrets-from-kubectl.sh"}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "KMIRROR="+binary, "FAKE_CLUSTER="+cluster)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// files lists the files under dir, relative, with their contents.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if info, err := d.Info(); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", p, info.Mode().Perm(), err)
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// secrets-from-kubectl.sh copies every secret key the resource names,
// and only those, into DIR/<secretName>/<key>, decoded; a pattern takes
// every key it matches; kmirror then reads them. A secret or key missing
// is an error naming it.
func TestSecretsFromKubectl(t *testing.T) {
	seedSecrets, _ := testbed.SeedSecrets(t)
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(seedSecrets, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	resource, err := os.ReadFile(exampleKMM2)
	if err != nil {
		t.Fatal(err)
	}
	// The namespace "kafka" of a cluster: the seed's resource and its
	// secrets, with keys it does not name beside those it does.
	cluster := func(t *testing.T, resource string, remove ...string) string {
		t.Helper()
		dir := t.TempDir()
		secrets := map[string]string{
			"my-source-cluster-cluster-ca-cert/ca.crt":      read("my-source-cluster-cluster-ca-cert/ca.crt"),
			"my-source-cluster-cluster-ca-cert/ca.p12":      "not named",
			"my-source-cluster-cluster-ca-cert/ca.password": "not named",
			"mm2-source-cluster/tls.crt":                    read("mm2-source-cluster/tls.crt"),
			"mm2-source-cluster/tls.key":                    read("mm2-source-cluster/tls.key"),
			"mm2-target-cluster/password":                   read("mm2-target-cluster/password"),
			"mm2-target-cluster/sasl.jaas.config":           "not named",
			"my-target-cluster-cluster-ca-cert/ca.crt":      read("my-target-cluster-cluster-ca-cert/ca.crt"),
			"my-target-cluster-cluster-ca-cert/old.crt":     read("my-source-cluster-cluster-ca-cert/ca.crt"),
		}
		files := map[string][]byte{"kafka/kafkamirrormaker2/my-mirror-maker-2.yaml": []byte(resource)}
		for name, data := range secrets {
			files["kafka/secret/"+name] = []byte(data)
		}
		for _, name := range remove {
			delete(files, "kafka/secret/"+name)
		}
		testbed.WriteFiles(t, dir, files)
		return dir
	}
	named := map[string]string{
		"my-source-cluster-cluster-ca-cert/ca.crt": read("my-source-cluster-cluster-ca-cert/ca.crt"),
		"mm2-source-cluster/tls.crt":               read("mm2-source-cluster/tls.crt"),
		"mm2-source-cluster/tls.key":               read("mm2-source-cluster/tls.key"),
		"mm2-target-cluster/password":              read("mm2-target-cluster/password"),
		"my-target-cluster-cluster-ca-cert/ca.crt": read("my-target-cluster-cluster-ca-cert/ca.crt"),
	}
	withPattern := regexp.MustCompile(`(my-target-cluster-cluster-ca-cert\n[^\n]*)certificate: ca.crt`).ReplaceAllString(string(resource), `${1}pattern: "*.crt"`)
	if withPattern == string(resource) {
		t.Fatal("the seed's target trusts no my-target-cluster-cluster-ca-cert/ca.crt")
	}
	patternCopies := map[string]string{"my-target-cluster-cluster-ca-cert/old.crt": read("my-source-cluster-cluster-ca-cert/ca.crt")}
	for k, v := range named {
		patternCopies[k] = v
	}

	for _, c := range []struct {
		name     string
		resource string
		remove   []string
		want     map[string]string
	}{
		{"the seed", string(resource), nil, named},
		{"a trustedCertificates pattern", withPattern, nil, patternCopies},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "secrets")
			code, out, errOut := secretsScript(t, cluster(t, c.resource, c.remove...), "kafka", "my-mirror-maker-2", dir)
			if code != 0 || out != c.resource {
				t.Fatalf("exit %d, stdout the resource: %t\n%s", code, out == c.resource, errOut)
			}
			got := files(t, dir)
			if len(got) != len(c.want) {
				t.Errorf("wrote %d files, want %d:\n%s", len(got), len(c.want), errOut)
			}
			for name, data := range c.want {
				if got[name] != data {
					t.Errorf("%s: %q, want %q", name, got[name], data)
				}
			}
			// kmirror reads them: the resource as printed, its secrets from DIR.
			resourceFile := filepath.Join(t.TempDir(), "kmm2.yaml")
			if err := os.WriteFile(resourceFile, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, out := runs(t, time.Minute, "validate", "-c", resourceFile, "--secrets-dir", dir); code != 0 || strings.Contains(out, "not checked") {
				t.Errorf("validate with the copied secrets exited %d:\n%s", code, out)
			}
		})
	}

	for _, c := range []struct {
		name   string
		remove []string
		args   []string
		code   int
		want   string
	}{
		{"a secret missing", []string{"mm2-target-cluster/password", "mm2-target-cluster/sasl.jaas.config"}, nil, 1, `secrets "mm2-target-cluster" not found`},
		{"a key missing", []string{"mm2-source-cluster/tls.key"}, nil, 1, "secret mm2-source-cluster in namespace kafka has no key tls.key"},
		{"a resource missing", nil, []string{"kafka", "other", "DIR"}, 1, `kafkamirrormaker2s.kafka.strimzi.io "other" not found`},
		{"no directory", nil, []string{"kafka", "my-mirror-maker-2"}, 2, "usage: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "secrets")
			args := []string{"kafka", "my-mirror-maker-2", dir}
			if c.args != nil {
				args = c.args
			}
			code, out, errOut := secretsScript(t, cluster(t, string(resource), c.remove...), args...)
			if code != c.code || out != "" || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, want %d naming %q:\nstdout %q\nstderr %s", code, c.code, c.want, out, errOut)
			}
		})
	}
}
