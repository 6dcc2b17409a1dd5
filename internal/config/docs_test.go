package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the key tables in docs/configuration.md")

const readme = "../../docs/configuration.md"

// keyTables renders the README's tables of keys from the registries, so
// the documentation lists exactly the keys kmirror knows, with their
// defaults.
func keyTables() string {
	var b strings.Builder
	b.WriteString("| key | MM2 default | kmirror default | why it differs / notes |\n|---|---|---|---|\n")
	for _, k := range ConnectorKeys {
		def := "`" + k.Default + "`"
		if !k.Effective() {
			def = "no effect"
		} else if k.Default == k.MM2Default && k.Why == "" {
			def = "same"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, code(k.MM2Default), def, k.Why)
	}
	b.WriteString("\nClient keys, in a cluster's `config` (Strimzi, native) or as `<alias>.<key>` (properties):\n\n")
	b.WriteString("| key | Kafka default | kmirror default | notes |\n|---|---|---|---|\n")
	for _, k := range ClientKeys {
		def := "same"
		if k.Default != k.KafkaDefault {
			def = code(k.Default)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Full(), code(k.KafkaDefault), def, k.Why)
	}
	return b.String()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func TestReadmeListsEveryKey(t *testing.T) {
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- keys:begin -->\n", "<!-- keys:end -->"
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("docs/configuration.md has no %q … %q section", begin, end)
	}
	want := keyTables()
	if got := text[i+len(begin) : j]; got != want {
		if *updateReadme {
			if err := os.WriteFile(readme, []byte(text[:i+len(begin)]+want+text[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/configuration.md's key tables are out of date: go test ./internal/config -run Readme -update-readme")
	}
}
