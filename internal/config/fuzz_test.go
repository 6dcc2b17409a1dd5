package config

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzLoader feeds a loader arbitrary content: it must never panic, and a
// configuration it accepts must validate.
func fuzzLoader(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(filepath.Join(t.TempDir(), name), data, Options{SecretsDir: t.TempDir(), LookupEnv: func(string) (string, bool) { return "pw", true }})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, not *config.Error: %v", err, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("loaded configuration does not validate: %v", err)
		}
	})
}

func FuzzLoadStrimzi(f *testing.F) {
	fuzzLoader(f, "kmm2.yaml", "testdata/seed-kmm2.yaml", "testdata/v1-kmm2.yaml", "testdata/kmm2-list.yaml", "testdata/invalid/missing-secret.yaml", "testdata/oauth-kmm2.yaml")
}

func FuzzLoadNative(f *testing.F) {
	fuzzLoader(f, "native.yaml", "testdata/native.yaml", "testdata/invalid/conflicting-connectors.yaml", "testdata/invalid/bad-policy.yaml")
}

func FuzzLoadProperties(f *testing.F) {
	fuzzLoader(f, "mm2.properties", "testdata/mm2.properties", "testdata/invalid/two-targets.properties", "testdata/invalid/bad-jaas.properties", "testdata/oauth.properties")
}

func FuzzParseJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p\"q";`)
	f.Add(`Mod required a=b c="d e"`)
	f.Fuzz(func(t *testing.T, s string) {
		j, err := parseJAAS(s)
		if err == nil && j.module == "" {
			t.Fatal("parsed a JAAS configuration without a module")
		}
	})
}
