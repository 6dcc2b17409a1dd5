package preflight

import (
	"slices"
	"strings"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/policy"
)

// Grants names, as ACL resources, every name a pattern can match: a
// literal name for a plain name, a prefix for "prefix.*", each
// alternative of "^(a.*|b)$", and "*" as soon as one item is any other
// regular expression. The resources cover at least what the pattern
// matches (MM2's matches(): the whole name).
func Grants(typ string, p policy.Pattern) []Resource {
	var out []Resource
	for _, item := range strings.Split(p.String(), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		rs, ok := itemGrants(typ, item)
		if !ok {
			return []Resource{{Type: typ, Name: "*", Pattern: Literal}}
		}
		for _, r := range rs {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

func itemGrants(typ, item string) ([]Resource, bool) {
	item = strings.TrimSuffix(strings.TrimPrefix(item, "^"), "$")
	for _, open := range []string{"(?:", "("} {
		if strings.HasPrefix(item, open) && strings.HasSuffix(item, ")") {
			inner := item[len(open) : len(item)-1]
			if !strings.ContainsAny(inner, "()") {
				item = inner
			}
			break
		}
	}
	var out []Resource
	for _, alt := range strings.Split(item, "|") {
		alt = strings.TrimSuffix(strings.TrimPrefix(alt, "^"), "$")
		pattern := Literal
		if rest, ok := strings.CutSuffix(alt, ".*"); ok {
			alt, pattern = rest, Prefixed
		}
		name, ok := literal(alt)
		switch {
		case !ok:
			return nil, false
		case name == "" && pattern == Prefixed:
			return nil, false // ".*": every name
		case name == "":
			continue // matches only the empty name, which no topic or group has
		}
		out = append(out, Resource{Type: typ, Name: name, Pattern: pattern})
	}
	return out, true
}

// literal unescapes a regular expression that matches exactly one string;
// ok is false when it has any other construct.
func literal(re string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\':
			if i+1 == len(re) {
				return "", false
			}
			i++
			n := re[i]
			if n >= '0' && n <= '9' || n >= 'a' && n <= 'z' || n >= 'A' && n <= 'Z' {
				return "", false // \d, \w, \Q…: classes and quoting
			}
			b.WriteByte(n)
		case strings.IndexByte(".[]{}()*+?^$|", c) >= 0:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// remote names on the target the topics that a source resource names.
func remote(f *config.Flow, r Resource) Resource {
	if r.Name == "*" && r.Pattern == Literal {
		if f.Replication.Identity() {
			return r
		}
		// Every remote topic of the default policy starts with the
		// source alias and the separator.
		return Resource{Type: TypeTopic, Name: f.Replication.RemoteTopic(f.Source, ""), Pattern: Prefixed}
	}
	return Resource{Type: TypeTopic, Name: f.Replication.RemoteTopic(f.Source, r.Name), Pattern: r.Pattern}
}

// PatternScope is the scope of a flow named by its patterns, for a
// KafkaUser that keeps working as topics and groups come and go.
func PatternScope(f *config.Flow) Scope {
	s := Scope{SourceTopics: Grants(TypeTopic, f.Topics), Groups: Grants(TypeGroup, f.Groups)}
	for _, r := range s.SourceTopics {
		s.TargetTopics = append(s.TargetTopics, remote(f, r))
	}
	if f.TopicCreation {
		s.CreateTopics = s.TargetTopics
	}
	return s
}
