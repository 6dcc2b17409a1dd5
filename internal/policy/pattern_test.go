package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestPatternMatchesWholeName(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{ // The seed's allow-list, with its spaces after the commas.
			pattern: "app1-t1, app1-t2, app2-t1, app3-t1, app3-t2",
			match:   []string{"app1-t1", "app1-t2", "app2-t1", "app3-t1", "app3-t2"},
			nomatch: []string{"app1-t", "app1-t10", "xapp1-t1", "app4-t1", " app1-t1", ""},
		},
		{ // The seed's regular expression: each alternative is anchored once.
			pattern: "^app1.*|app2.*$",
			match:   []string{"app1", "app1-t1", "app2-t1", "app2"},
			nomatch: []string{"app3-t1", "xapp1", "my-app2"},
		},
		{
			pattern: "^(app1.*|app2.*)$",
			match:   []string{"app1-consumer", "app2-x"},
			nomatch: []string{"app3-consumer"},
		},
		{ // Look-arounds need a Java-compatible engine.
			pattern: "^(?!.*heartbeats).*$",
			match:   []string{"app1-t1", "orders"},
			nomatch: []string{"heartbeats", "src.heartbeats"},
		},
		{ // The seed's deny-list has an empty alternative, so it excludes everything.
			pattern: "^(?!.*(heartbeats|)).*$",
			nomatch: []string{"app1-group", "heartbeats", ""},
		},
		{ // A dot is a regex dot, and the match is whole, not a substring.
			pattern: "a.c",
			match:   []string{"abc", "a.c"},
			nomatch: []string{"abcd", "xabc"},
		},
		{ // A final newline is not swallowed by the anchor.
			pattern: "abc",
			nomatch: []string{"abc\n"},
		},
		{
			pattern: "",
			nomatch: []string{"", "a"},
		},
		{
			pattern: " , .* , ",
			match:   []string{"", "anything"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) { checkMatches(t, tt.pattern, tt.match, tt.nomatch) })
	}
}

func TestCompileNamesTheBadItem(t *testing.T) {
	_, err := Compile("good.*, (unclosed, also[bad")
	if err == nil {
		t.Fatal("Compile accepted invalid expressions")
	}
	var items []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ie *ItemError
		if !errors.As(e, &ie) {
			t.Fatalf("error %v is not an ItemError", e)
		}
		items = append(items, ie.Item)
	}
	if got := strings.Join(items, "|"); got != "(unclosed|also[bad" {
		t.Fatalf("bad items = %q", got)
	}
}

func TestMatchTimesOut(t *testing.T) {
	p := MustCompile("(a+)+b")
	ok, err := p.Match(strings.Repeat("a", 64))
	if ok || err == nil {
		t.Fatalf("catastrophic pattern: Match = %v, %v; want a timeout error", ok, err)
	}
}

func TestFilterSelect(t *testing.T) {
	f := Filter{Include: MustCompile(".*"), Exclude: MustCompile(`.*[\-\.]internal, .*\.replica, __.*`)}
	tests := []struct {
		name     string
		selected bool
		reason   string
	}{
		{"orders", true, ""},
		{"mm2-offset-syncs.b.internal", false, `excluded by '.*[\-\.]internal, .*\.replica, __.*'`},
		{"__consumer_offsets", false, `excluded by '.*[\-\.]internal, .*\.replica, __.*'`},
	}
	for _, tt := range tests {
		v, err := f.Select(tt.name)
		if err != nil || v.Selected != tt.selected || v.Reason != tt.reason {
			t.Errorf("Select(%q) = %+v, %v; want %v %q", tt.name, v, err, tt.selected, tt.reason)
		}
	}
	v, _ := Filter{Include: MustCompile("app1.*")}.Select("app2")
	if v.Selected || v.Reason != `not matched by 'app1.*'` {
		t.Errorf("Select(app2) = %+v", v)
	}
}

func TestUnmatched(t *testing.T) {
	p := MustCompile("app1-t1, app1-t3, app2.*, ^x$")
	got := p.Unmatched([]string{"app1-t1", "app2-a", "other"})
	if strings.Join(got, "|") != "app1-t3|^x$" {
		t.Errorf("Unmatched = %q", got)
	}
}

// checkMatches compiles pattern and checks that it matches each of match
// and none of nomatch.
func checkMatches(t *testing.T, pattern string, match, nomatch []string) {
	t.Helper()
	p, err := Compile(pattern)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	for _, name := range match {
		if ok, err := p.Match(name); !ok || err != nil {
			t.Errorf("Match(%q) = %v, %v; want true", name, ok, err)
		}
	}
	for _, name := range nomatch {
		if ok, err := p.Match(name); ok || err != nil {
			t.Errorf("Match(%q) = %v, %v; want false", name, ok, err)
		}
	}
}
