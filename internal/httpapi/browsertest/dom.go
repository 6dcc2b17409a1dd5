package browsertest

import (
	"fmt"
	"html"
	"regexp"
	"strings"
)

// Element is an element of a page's DOM as Chromium serialized it.
type Element struct {
	Tag      string
	Attrs    map[string]string
	Children []*Element
	parts    []any // string or *Element, in document order
}

// Text is the element's text content, as the browser's textContent.
func (e *Element) Text() string {
	var b strings.Builder
	for _, p := range e.parts {
		switch p := p.(type) {
		case string:
			b.WriteString(p)
		case *Element:
			b.WriteString(p.Text())
		}
	}
	return b.String()
}

// Attr returns an attribute's value and whether it is present.
func (e *Element) Attr(name string) (string, bool) {
	v, ok := e.Attrs[name]
	return v, ok
}

// All returns every element under e (e included) that has the attribute
// name, with the given value when value is not empty, in document order.
func (e *Element) All(name, value string) []*Element {
	var out []*Element
	var walk func(*Element)
	walk = func(n *Element) {
		if v, ok := n.Attrs[name]; ok && (value == "" || v == value) {
			out = append(out, n)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(e)
	return out
}

// Find returns the first element under e with attribute name = value.
func (e *Element) Find(name, value string) (*Element, bool) {
	if all := e.All(name, value); len(all) > 0 {
		return all[0], true
	}
	return nil, false
}

// Field returns the value of the descendant marked data-field=name: its
// data-value attribute when it has one, else its text.
func (e *Element) Field(name string) (string, bool) {
	f, ok := e.Find("data-field", name)
	if !ok {
		return "", false
	}
	if v, ok := f.Attrs["data-value"]; ok {
		return v, true
	}
	return strings.TrimSpace(f.Text()), true
}

// Tags returns every element under e (e included) with the tag name.
func (e *Element) Tags(tag string) []*Element {
	var out []*Element
	var walk func(*Element)
	walk = func(n *Element) {
		if n.Tag == tag {
			out = append(out, n)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(e)
	return out
}

var (
	// Chromium serializes every attribute value in double quotes with
	// '"' escaped, so a value never contains a quote and may contain '>'.
	tagRE  = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:="[^"]*")?)*)\s*(/?)>`)
	attrRE = regexp.MustCompile(`([^\s"'>/=]+)(?:="([^"]*)")?`)
	// void elements have no end tag.
	void = map[string]bool{
		"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
		"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
	}
	// raw elements hold text that is not markup.
	raw = map[string]bool{"script": true, "style": true, "textarea": true, "title": true}
)

// ParseDOM reads the DOM Chromium's --dump-dom printed. It is no general
// HTML parser: it relies on Chromium's serialization (every element
// closed, attributes double-quoted), which is all a page test needs.
func ParseDOM(dom string) (*Element, error) {
	root := &Element{Tag: "#document", Attrs: map[string]string{}}
	stack := []*Element{root}
	top := func() *Element { return stack[len(stack)-1] }
	text := func(s string) {
		if s != "" {
			top().parts = append(top().parts, html.UnescapeString(s))
		}
	}
	rest := dom
	for {
		loc := tagRE.FindStringSubmatchIndex(rest)
		if loc == nil {
			text(rest)
			break
		}
		text(rest[:loc[0]])
		closing := loc[3] > loc[2]
		tag := strings.ToLower(rest[loc[4]:loc[5]])
		attrs, selfClosing := rest[loc[6]:loc[7]], loc[9] > loc[8]
		rest = rest[loc[1]:]
		if closing {
			i := len(stack) - 1
			for i > 0 && stack[i].Tag != tag {
				i--
			}
			if i == 0 {
				return nil, fmt.Errorf("end tag </%s> without a start tag", tag)
			}
			stack = stack[:i]
			continue
		}
		el := &Element{Tag: tag, Attrs: map[string]string{}}
		for _, m := range attrRE.FindAllStringSubmatch(attrs, -1) {
			el.Attrs[strings.ToLower(m[1])] = html.UnescapeString(m[2])
		}
		parent := top()
		parent.Children = append(parent.Children, el)
		parent.parts = append(parent.parts, el)
		switch {
		case void[tag] || selfClosing:
		case raw[tag]:
			end := strings.Index(strings.ToLower(rest), "</"+tag)
			if end < 0 {
				return nil, fmt.Errorf("<%s> is not closed", tag)
			}
			content := rest[:end]
			if tag == "title" || tag == "textarea" {
				// escapable raw text: entities are decoded, tags are not
				content = html.UnescapeString(content)
			}
			el.parts = append(el.parts, content)
			rest = rest[end:]
			stack = append(stack, el)
		default:
			stack = append(stack, el)
		}
	}
	if len(stack) > 1 {
		return nil, fmt.Errorf("<%s> is not closed", top().Tag)
	}
	return root, nil
}
