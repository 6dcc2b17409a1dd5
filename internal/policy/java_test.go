package policy

import (
	"strings"
	"testing"
)

// Java's possessive quantifiers and POSIX classes, as the
// java.util.regex.Pattern javadoc defines them, match as in Java.
func TestJavaOnlySyntax(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{ // A possessive quantifier gives nothing back: ".*+x" never matches.
			pattern: ".*+x",
			nomatch: []string{"x", "abcx", ""},
		},
		{
			pattern: "a*+b",
			match:   []string{"b", "aaab"},
			nomatch: []string{"aaa", "ab c"},
		},
		{
			pattern: "a++a",
			nomatch: []string{"a", "aa", "aaa"},
		},
		{
			pattern: "orders-\\d++",
			match:   []string{"orders-1", "orders-42"},
			nomatch: []string{"orders-", "orders-1a"},
		},
		{
			pattern: "x?+x",
			match:   []string{"xx"},
			nomatch: []string{"x"},
		},
		{ // {n,m} cannot be written: MM2 splits the list at its comma.
			pattern: "a{2}+a",
			match:   []string{"aaa"},
			nomatch: []string{"aa", "aaaa"},
		},
		{ // The quantifier applies to a group, a class and an escape.
			pattern: "(ab)*+c, [0-9]++x, \\.++y",
			match:   []string{"ababc", "c", "123x", "..y"},
			nomatch: []string{"abab", "x", "y"},
		},
		{ // A quoted plus, in a class or escaped, is a literal.
			pattern: "a[+]+, b\\++",
			match:   []string{"a+", "a++", "b+", "b++"},
			nomatch: []string{"a", "b"},
		},
		{ // Lazy stays lazy.
			pattern: "a*?b",
			match:   []string{"aab"},
		},
		{
			pattern: "\\p{Alpha}+",
			match:   []string{"abc", "ABC"},
			nomatch: []string{"é", "a1", ""},
		},
		{
			pattern: "\\p{Digit}{2}-\\p{Alnum}*",
			match:   []string{"12-ab3", "00-"},
			nomatch: []string{"1-a", "12-a_b", "١٢-a"},
		},
		{
			pattern: "\\p{Upper}\\p{Lower}+",
			match:   []string{"Orders"},
			nomatch: []string{"orders", "ÖRders", "Örders"},
		},
		{
			pattern: "a\\p{Punct}b",
			match:   []string{"a.b", "a-b", "a_b", "a[b", "a`b", "a~b", "a!b", "a/b", "a@b", "a{b"},
			nomatch: []string{"a b", "a1b", "a§b"},
		},
		{
			pattern: "a\\p{Space}b",
			match:   []string{"a b", "a\tb", "a\nb", "a\x0bb", "a\fb", "a\rb"},
			nomatch: []string{"a\u00a0b", "ab"},
		},
		{ // Negated, and inside a class.
			pattern: "\\P{Digit}+, [\\p{Lower}\\p{Digit}.]+",
			match:   []string{"abc", "é", "a.1", "1"},
			nomatch: []string{"A1", "_1"},
		},
		{ // Unicode categories .NET shares with Java pass through.
			pattern: "\\p{L}+",
			match:   []string{"é", "abc"},
			nomatch: []string{"1"},
		},
		{
			pattern: "\\p{javaLowerCase}+, \\p{IsAlphabetic}\\d",
			match:   []string{"éa", "É1"},
			nomatch: []string{"A", "11"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) { checkMatches(t, tt.pattern, tt.match, tt.nomatch) })
	}
}

func TestJavaToNET(t *testing.T) {
	tests := []struct{ java, net string }{
		{"a*+", "(?>a*)"},
		{"(a|b)++c", "(?>(a|b)+)c"},
		{"[a-z]{2,}+", "(?>[a-z]{2,})"},
		{`\u0041?+`, `(?>\u0041?)`},
		{`x\p{Alpha}`, `x[a-zA-Z]`},
		{`[^\p{Digit}_]`, `[^0-9_]`},
		{`\P{Alnum}`, `[^a-zA-Z0-9]`},
		{`[]+]+`, `[]+]+`},
		{`[]+]++`, `(?>[]+]+)`},
		{`a{,2}+`, `a{,2}+`}, // not a repetition in Java either
		{`\p{L}*+`, `(?>\p{L}*)`},
		{`(unclosed*+`, `(unclose(?>d*)`},
		{`a{1,3}+`, `(?>a{1,3})`},
	}
	for _, tt := range tests {
		if got := javaToNET(tt.java); got != tt.net {
			t.Errorf("javaToNET(%q) = %q, want %q", tt.java, got, tt.net)
		}
	}
}

// The translation never panics, and leaves a pattern without Java-only
// syntax as it is.
func FuzzJavaToNET(f *testing.F) {
	for _, s := range []string{"^(?!.*heartbeats).*$", "a*+b", `\p{Alpha}[\p{Digit}]`, `[a[b]]++`, `\`, `\p{`, "a{1,2}+", `(?<n>x)\k<n>++`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := javaToNET(s)
		plain := true
		for _, java := range []string{"*+", "++", "?+", "}+", `\p{`, `\P{`} {
			if strings.Contains(s, java) {
				plain = false
			}
		}
		if plain && got != s {
			t.Fatalf("javaToNET(%q) = %q: changed a pattern without Java-only syntax", s, got)
		}
		if _, err := Compile(s); err != nil && !strings.Contains(err.Error(), "valid regular expression") {
			t.Fatalf("Compile(%q): %v", s, err)
		}
	})
}
