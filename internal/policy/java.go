package policy

import "strings"

// posixClasses are java.util.regex's POSIX classes, US-ASCII only as Java
// defines them without UNICODE_CHARACTER_CLASS, and the java.lang.Character
// classes nearest to a .NET category, written as the inside of a
// character class.
var posixClasses = map[string]string{
	"Lower":  `a-z`,
	"Upper":  `A-Z`,
	"ASCII":  `\x00-\x7F`,
	"Alpha":  `a-zA-Z`,
	"Digit":  `0-9`,
	"Alnum":  `a-zA-Z0-9`,
	"Punct":  "!-/:-@\\[-`{-~",
	"Graph":  `!-~`,
	"Print":  ` -~`,
	"Blank":  ` \t`,
	"Cntrl":  `\x00-\x1F\x7F`,
	"XDigit": `0-9a-fA-F`,
	"Space":  ` \t\n\x0B\f\r`,
	// Unicode, as Java has them; Java also counts the few Other_Lowercase,
	// Other_Uppercase and Other_Alphabetic code points these leave out.
	"javaLowerCase": `\p{Ll}`,
	"javaUpperCase": `\p{Lu}`,
	"IsAlphabetic":  `\p{L}\p{Nl}`,
}

// javaToNET rewrites what java.util.regex has and regexp2 (.NET syntax)
// lacks: possessive quantifiers X*+, X++, X?+ and X{n,m}+ become atomic
// groups (?>X*), which match the same; \p{Alpha} and the other POSIX
// classes become their ASCII character classes. Everything else is copied
// unchanged, errors included, for the engine to report.
func javaToNET(p string) string {
	var out strings.Builder
	out.Grow(len(p))
	// atom is where in out the last quantifiable item starts, -1 when
	// nothing before a quantifier could be quantified.
	atom := -1
	var groups []int
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\\':
			start := out.Len()
			n := escapeLen(p, i)
			if class, neg, ok := posixEscape(p[i : i+n]); ok {
				if neg {
					out.WriteString("[^" + class + "]")
				} else {
					out.WriteString("[" + class + "]")
				}
			} else {
				out.WriteString(p[i : i+n])
			}
			i += n
			atom = start
		case c == '[':
			start := out.Len()
			i = copyClass(&out, p, i)
			atom = start
		case c == '(':
			groups = append(groups, out.Len())
			out.WriteByte(c)
			i++
			atom = -1
		case c == ')':
			atom = -1
			if len(groups) > 0 {
				atom = groups[len(groups)-1]
				groups = groups[:len(groups)-1]
			}
			out.WriteByte(c)
			i++
		case c == '*' || c == '+' || c == '?' || (c == '{' && repetitionLen(p[i:]) > 0):
			n := 1
			if c == '{' {
				n = repetitionLen(p[i:])
			}
			q := p[i : i+n]
			i += n
			if atom >= 0 && i < len(p) && p[i] == '+' {
				s := out.String()
				out.Reset()
				out.WriteString(s[:atom] + "(?>" + s[atom:] + q + ")")
				i++
			} else {
				out.WriteString(q)
			}
			atom = -1
		case c == '|' || c == '^' || c == '$':
			out.WriteByte(c)
			i++
			atom = -1
		default:
			atom = out.Len()
			out.WriteByte(c)
			i++
		}
	}
	return out.String()
}

// escapeLen is the length of the escape sequence at p[i] (a backslash):
// \p{Name}, \x{h…}, \k<name>, \uXXXX and \xhh whole, so that a quantifier
// after one applies to all of it.
func escapeLen(p string, i int) int {
	if i+1 >= len(p) {
		return len(p) - i
	}
	rest := p[i+1:]
	switch rest[0] {
	case 'p', 'P', 'x', 'N':
		if len(rest) > 1 && rest[1] == '{' {
			if j := strings.IndexByte(rest, '}'); j > 0 {
				return j + 2
			}
		}
		if rest[0] == 'x' {
			return 2 + hexRun(rest[1:], 2)
		}
		if rest[0] != 'N' && len(rest) > 1 {
			return 3 // \pL
		}
	case 'u':
		return 2 + hexRun(rest[1:], 4)
	case 'k':
		if len(rest) > 1 && rest[1] == '<' {
			if j := strings.IndexByte(rest, '>'); j > 0 {
				return j + 2
			}
		}
	case 'c':
		if len(rest) > 1 {
			return 3
		}
	}
	// One character, however many bytes it takes.
	n := 1
	for n < len(rest) && rest[n]&0xC0 == 0x80 {
		n++
	}
	return 1 + n
}

func hexRun(s string, max int) int {
	n := 0
	for n < len(s) && n < max && strings.IndexByte("0123456789abcdefABCDEF", s[n]) >= 0 {
		n++
	}
	return n
}

// posixEscape is the class of \p{Name} or \P{Name} (negated) when Name is
// one .NET does not know.
func posixEscape(esc string) (class string, negated, ok bool) {
	if len(esc) < 5 || (esc[1] != 'p' && esc[1] != 'P') || esc[2] != '{' || esc[len(esc)-1] != '}' {
		return "", false, false
	}
	name := esc[3 : len(esc)-1]
	class, ok = posixClasses[name]
	return class, esc[1] == 'P', ok
}

// repetitionLen is the length of {n}, {n,} or {n,m} at the start of s, 0
// when s does not start with one (a literal brace).
func repetitionLen(s string) int {
	i, digits := 1, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && s[i] == ',' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && s[i] == '}' {
		return i + 1
	}
	return 0
}

// copyClass copies the character class at p[i] ('[') to out, with its
// POSIX escapes rewritten, and returns the index after it. Java's nested
// classes ([a[b]]) are followed so that the class ends where Java ends it;
// an unterminated class is copied to the end, for the engine to report.
func copyClass(out *strings.Builder, p string, i int) int {
	depth := 0
	for i < len(p) {
		c := p[i]
		switch {
		case c == '\\':
			n := escapeLen(p, i)
			if class, neg, ok := posixEscape(p[i : i+n]); ok && !neg {
				out.WriteString(class)
			} else {
				// \P{Alpha} inside a class has no .NET spelling; left
				// for the engine to refuse.
				out.WriteString(p[i : i+n])
			}
			i += n
			continue
		case c == '[':
			depth++
			out.WriteByte(c)
			i++
			// A ']' first in a class, after an optional '^', is literal.
			if i < len(p) && p[i] == '^' {
				out.WriteByte('^')
				i++
			}
			if i < len(p) && p[i] == ']' {
				out.WriteByte(']')
				i++
			}
			continue
		case c == ']':
			depth--
		}
		out.WriteByte(c)
		i++
		if depth == 0 {
			return i
		}
	}
	return i
}
