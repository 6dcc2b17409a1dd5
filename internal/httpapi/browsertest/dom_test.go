package browsertest

import "testing"

func TestParseDOM(t *testing.T) {
	tests := []struct {
		name, dom string
		attr, val string // an element to find
		wantText  string
		wantField map[string]string
		wantErr   bool
	}{
		{
			name: "text is unescaped and nested",
			dom:  `<html><body><p id="x">a &lt;b&gt; <b>c</b> &amp; d</p></body></html>`,
			attr: "id", val: "x",
			wantText: "a <b> c & d",
		},
		{
			name: "attribute values with markup and quotes",
			dom:  `<html><body><table><tbody><tr data-group="&lt;img src=x&gt; &quot;q&quot;" data-verdict="ready"><td data-field="n" data-value="42">42</td><td data-field="r">why<br>not</td></tr></tbody></table></body></html>`,
			attr: "data-group", val: `<img src=x> "q"`,
			wantField: map[string]string{"n": "42", "r": "whynot"},
		},
		{
			name: "script content is not markup",
			dom:  `<html><head><script>if (a<b) x = "<tr>";</script></head><body><i id="y">ok</i></body></html>`,
			attr: "id", val: "y",
			wantText: "ok",
		},
		{
			name: "svg with self-closing and void tags",
			dom:  `<html><body><svg data-chart="h" data-points="3"><polyline points="1,2 3,4"></polyline><circle r="3"/></svg><img src="a"><p id="z">after</p></body></html>`,
			attr: "id", val: "z",
			wantText: "after",
		},
		{name: "stray end tag", dom: `<html></div></html>`, wantErr: true},
		{name: "unclosed", dom: `<html><body>`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := ParseDOM(tc.dom)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			el, ok := root.Find(tc.attr, tc.val)
			if !ok {
				t.Fatalf("no element with %s=%q", tc.attr, tc.val)
			}
			if tc.wantText != "" && el.Text() != tc.wantText {
				t.Errorf("text = %q, want %q", el.Text(), tc.wantText)
			}
			for f, want := range tc.wantField {
				if got, ok := el.Field(f); !ok || got != want {
					t.Errorf("field %s = %q (%v), want %q", f, got, ok, want)
				}
			}
		})
	}
}
