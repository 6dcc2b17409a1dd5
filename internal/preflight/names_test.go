package preflight

import (
	"fmt"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/kmirror/kmirror/internal/policy"
)

func TestGrants(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string // "name" literal, "name*" prefixed
	}{
		{"app1-t1, app1-t2, app2-t1", []string{"app1-t1", "app1-t2", "app2-t1"}},
		{"^(app1.*|app2.*)$", []string{"app1*", "app2*"}},
		{"^app1.*|app2.*$", []string{"app1*", "app2*"}},
		{"(?:orders|payments\\.v1)", []string{"orders", "payments.v1"}},
		{"app1.*, app1-t1", []string{"app1*", "app1-t1"}},
		{".*", []string{"*"}},
		{"app1-t[1-5]", []string{"*"}},
		{"app1-t1, app\\d+", []string{"*"}},
		{"^(?!.*(heartbeats|)).*$", []string{"*"}},
		{"a.b", []string{"*"}}, // "." matches any character
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			var got []string
			for _, r := range Grants(TypeTopic, policy.MustCompile(tt.pattern)) {
				s := r.Name
				if r.Pattern == Prefixed {
					s += "*"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Grants(%q) = %q, want %q", tt.pattern, got, tt.want)
			}
		})
	}
}

// Every name a pattern matches is covered by its grants.
func FuzzGrantsCover(f *testing.F) {
	for _, s := range []string{"app1-t1, app2.*|x", "^(a.*|b)$", "a\\.b", ".*"} {
		f.Add(s, "app1-t1")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if name == "" || !utf8.ValidString(name) || !utf8.ValidString(pattern) {
			return // names are valid, non-empty UTF-8
		}
		p, err := policy.Compile(pattern)
		if err != nil {
			return
		}
		if ok, err := p.Match(name); err != nil || !ok {
			return
		}
		for _, r := range Grants(TypeTopic, p) {
			if r.Name == "*" || r.Pattern == Literal && r.Name == name || r.Pattern == Prefixed && len(name) >= len(r.Name) && name[:len(r.Name)] == r.Name {
				return
			}
		}
		t.Errorf("%q matches %q, but no grant of %v covers it", pattern, name, fmt.Sprint(Grants(TypeTopic, p)))
	})
}
