package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// ynode is a YAML node with the key path that leads to it.
type ynode struct {
	n    *yaml.Node
	path string
}

func (y ynode) at() loc { return loc{key: y.path, line: y.n.Line} }

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// child is the path of a field: spec.config."tasks.max" quotes keys that
// are not plain words.
func child(path, key string) string {
	if !plainKey.MatchString(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return "a value"
	}
	return "an alias"
}

// yobj is a YAML mapping whose fields are read one by one, so that the
// fields nobody read can be reported.
type yobj struct {
	ynode
	order  []string
	fields map[string]*yaml.Node
	keys   map[string]*yaml.Node
	used   map[string]bool
	// reported are the unknown fields already reported by missing.
	reported map[string]bool
	// expect lists the schema's fields, for suggestions.
	expect []string
}

// object reads a mapping; an empty node is an empty mapping.
func (y ynode) object(d *diags) (*yobj, bool) {
	o := &yobj{ynode: y, fields: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}, used: map[string]bool{}, reported: map[string]bool{}}
	if y.n == nil || (y.n.Kind == yaml.ScalarNode && y.n.Tag == "!!null") {
		return o, true
	}
	if y.n.Kind != yaml.MappingNode {
		d.errorf(y.at(), "must be a mapping, not %s", kindName(y.n))
		return o, false
	}
	for i := 0; i+1 < len(y.n.Content); i += 2 {
		k, v := y.n.Content[i], y.n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(loc{key: y.path, line: k.Line}, "keys must be plain values")
			continue
		}
		if _, dup := o.fields[k.Value]; dup {
			d.errorf(loc{key: child(y.path, k.Value), line: k.Line}, "given twice")
			continue
		}
		o.order = append(o.order, k.Value)
		o.fields[k.Value] = v
		o.keys[k.Value] = k
	}
	return o, true
}

func (o *yobj) has(name string) bool { _, ok := o.fields[name]; return ok }

// get marks a field read and returns it.
func (o *yobj) get(name string) (ynode, bool) {
	n, ok := o.fields[name]
	if !ok {
		return ynode{}, false
	}
	o.used[name] = true
	return ynode{n: n, path: child(o.path, name)}, true
}

// str reads a scalar field. ok is false when it is absent or not a scalar
// (which is reported).
func (o *yobj) str(name string, d *diags) (string, loc, bool) {
	y, ok := o.get(name)
	if !ok {
		return "", loc{key: child(o.path, name), line: o.n.Line}, false
	}
	if y.n.Kind != yaml.ScalarNode {
		d.errorf(y.at(), "must be a value, not %s", kindName(y.n))
		return "", y.at(), false
	}
	if y.n.Tag == "!!null" {
		return "", y.at(), false
	}
	return y.n.Value, y.at(), true
}

// required reads a scalar field that must be there.
func (o *yobj) required(name string, d *diags) (string, loc, bool) {
	v, at, ok := o.str(name, d)
	if !ok && !o.has(name) {
		o.missing(name, at, d)
	} else if ok && v == "" {
		d.errorf(at, "must not be empty")
		ok = false
	}
	return v, at, ok
}

// missing reports a required field that is not there. A field nobody
// read whose closest known name is the missing one is most likely it,
// misspelt: it is reported first, as an error, for the "required" alone
// would not say where the mistake is.
func (o *yobj) missing(name string, at loc, d *diags) {
	known := append(slices.Clone(o.expect), name)
	for _, k := range o.order {
		if o.used[k] || o.reported[k] || slices.Contains(o.expect, k) || k == name {
			continue
		}
		if suggest(k, known) == name {
			o.reported[k] = true
			d.errorf(loc{key: child(o.path, k), line: o.keys[k].Line}, "unknown field%s", didYouMean(name))
		}
	}
	d.errorf(at, "required")
}

func (o *yobj) integer(name string, d *diags) (int, loc, bool) {
	v, at, ok := o.str(name, d)
	if !ok {
		return 0, at, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		d.errorf(at, "%q is not an integer", v)
		return 0, at, false
	}
	return n, at, true
}

func (o *yobj) list(name string, d *diags) []ynode {
	y, ok := o.get(name)
	if !ok || (y.n.Kind == yaml.ScalarNode && y.n.Tag == "!!null") {
		return nil
	}
	if y.n.Kind != yaml.SequenceNode {
		d.errorf(y.at(), "must be a list, not %s", kindName(y.n))
		return nil
	}
	out := make([]ynode, len(y.n.Content))
	for i, n := range y.n.Content {
		out[i] = ynode{n: n, path: index(y.path, i)}
	}
	return out
}

// entries reads a flat map of keys to scalar values, like a config block.
func (o *yobj) entries(name string, layer int, group string, d *diags) []entry {
	y, ok := o.get(name)
	if !ok {
		return nil
	}
	m, ok := y.object(d)
	if !ok {
		return nil
	}
	var out []entry
	for _, k := range m.order {
		v := m.fields[k]
		at := loc{key: child(y.path, k), line: m.keys[k].Line}
		if v.Kind != yaml.ScalarNode {
			d.errorf(at, "must be a string, number or boolean, not %s", kindName(v))
			continue
		}
		val := v.Value
		if v.Tag == "!!null" {
			val = ""
		}
		out = append(out, entry{key: k, value: val, at: at, layer: layer, group: group})
	}
	return out
}

// finish reports the fields nobody read: notes for those in ignored (with
// the reason), warnings with a suggestion for the rest.
func (o *yobj) finish(d *diags, ignored map[string]string) {
	var known []string
	for k := range o.used {
		known = append(known, k)
	}
	for k := range ignored {
		known = append(known, k)
	}
	for _, k := range o.order {
		if o.used[k] || o.reported[k] {
			continue
		}
		at := loc{key: child(o.path, k), line: o.keys[k].Line}
		if why, ok := ignored[k]; ok {
			d.notef(at, "ignored: %s", why)
			continue
		}
		d.warnf(at, "unknown field, ignored%s", didYouMean(suggest(k, append(known, o.expected()...))))
	}
}

// expected is filled by callers that know the schema, for suggestions of
// fields that were not written.
func (o *yobj) expected() []string { return o.expect }
