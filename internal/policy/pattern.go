package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
)

// MatchTimeout bounds one regular-expression match. Java regular expressions
// backtrack, so a pathological pattern could otherwise hang discovery.
const MatchTimeout = 100 * time.Millisecond

// Pattern is a comma-separated list of Java regular expressions, as MM2's
// "topics", "groups" and their ".exclude" keys take them. A name matches when
// any item matches the whole name.
type Pattern struct {
	text  string
	items []*regexp2.Regexp
	// source holds each item as written.
	source []string
}

// ItemError reports one list item that is not a valid regular expression.
type ItemError struct {
	Item string
	Err  error
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("%q is not a valid regular expression: %v", e.Item, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// Compile parses a comma-separated list of regular expressions. Spaces
// around the commas are trimmed and empty items dropped, as MM2 does; an empty
// list matches nothing.
func Compile(text string) (Pattern, error) {
	p := Pattern{text: text}
	var errs []error
	for _, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		// \A and \z anchor the whole name like Java's matches(); "$" would
		// also match before a final newline.
		wrapped := `\A(?:` + javaToNET(item) + `)\z`
		re, err := regexp2.Compile(wrapped, regexp2.None)
		if err != nil {
			// Show the engine's message about the item as written.
			msg := strings.ReplaceAll(err.Error(), wrapped, item)
			msg = strings.TrimPrefix(msg, "error parsing regexp: ")
			errs = append(errs, &ItemError{Item: item, Err: errors.New(msg)})
			continue
		}
		re.MatchTimeout = MatchTimeout
		p.items = append(p.items, re)
		p.source = append(p.source, item)
	}
	if len(errs) > 0 {
		return Pattern{}, errors.Join(errs...)
	}
	return p, nil
}

// MustCompile is Compile for patterns known to be valid, such as defaults.
func MustCompile(text string) Pattern {
	p, err := Compile(text)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern as it was written.
func (p Pattern) String() string { return p.text }

// Empty reports whether the list has no items, so that it matches nothing.
func (p Pattern) Empty() bool { return len(p.items) == 0 }

// Match reports whether any item matches the whole name. An error means a
// match ran past MatchTimeout; the name is then not matched.
func (p Pattern) Match(name string) (bool, error) {
	for _, re := range p.items {
		ok, err := re.MatchString(name)
		if err != nil {
			return false, fmt.Errorf("pattern %q on %q: %w", p.text, name, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Filter selects names with an include and an exclude pattern, as MM2's
// DefaultTopicFilter and DefaultGroupFilter do.
type Filter struct {
	Include Pattern
	Exclude Pattern
}

// Verdict says whether a filter selects a name, and why not when it does not.
type Verdict struct {
	Selected bool
	Reason   string
}

// Select applies the filter to one name.
func (f Filter) Select(name string) (Verdict, error) {
	in, err := f.Include.Match(name)
	if err != nil {
		return Verdict{Reason: "match timed out"}, err
	}
	if !in {
		return Verdict{Reason: fmt.Sprintf("not matched by '%s'", f.Include.text)}, nil
	}
	out, err := f.Exclude.Match(name)
	if err != nil {
		return Verdict{Reason: "match timed out"}, err
	}
	if out {
		return Verdict{Reason: fmt.Sprintf("excluded by '%s'", f.Exclude.text)}, nil
	}
	return Verdict{Selected: true}, nil
}

// Unmatched returns the items, as written, that match none of the names:
// in an allow-list, most likely a typo.
func (p Pattern) Unmatched(names []string) []string {
	var out []string
	for i, re := range p.items {
		found := false
		for _, n := range names {
			if ok, _ := re.MatchString(n); ok {
				found = true
				break
			}
		}
		if !found {
			out = append(out, p.source[i])
		}
	}
	return out
}
