package docs

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/kmirror/kmirror/internal/config"
	"go.yaml.in/yaml/v3"
)

// root is the repository, from this package's directory.
const root = ".."

// page is one Markdown file: its lines outside code, its anchors and its
// fenced blocks.
type page struct {
	path    string // relative to root, slash-separated
	prose   []line
	anchors map[string]bool
	blocks  []block
}

type line struct {
	n    int
	text string
}

// block is a fenced code block with the marker comment above it, if any.
type block struct {
	line   int
	lang   string
	marker string // "file: PATH", "fragment", or ""
	body   string
}

var markerRE = regexp.MustCompile(`^<!--\s*(file:\s*\S+|fragment)\s*-->$`)

func readPage(t *testing.T, rel string) *page {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	p := &page{path: rel, anchors: map[string]bool{}}
	seen := map[string]int{}
	var (
		in     *block
		fence  string
		body   []string
		marker string
	)
	for i, text := range strings.Split(string(data), "\n") {
		n := i + 1
		trimmed := strings.TrimSpace(text)
		if in != nil {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`~") == "" {
				in.body = strings.Join(body, "\n") + "\n"
				p.blocks = append(p.blocks, *in)
				in, body = nil, nil
				continue
			}
			body = append(body, text)
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			in = &block{line: n, lang: strings.TrimSpace(trimmed[3:]), marker: marker}
			marker = ""
			continue
		}
		if m := markerRE.FindStringSubmatch(trimmed); m != nil {
			marker = m[1]
			continue
		}
		if trimmed != "" {
			marker = ""
		}
		if strings.HasPrefix(text, "#") {
			slug := slugify(strings.TrimLeft(text, "#"))
			if k := seen[slug]; k > 0 {
				p.anchors[slug+"-"+strconv.Itoa(k)] = true
			} else {
				p.anchors[slug] = true
			}
			seen[slug]++
		}
		p.prose = append(p.prose, line{n, text})
	}
	if in != nil {
		t.Errorf("%s:%d: code block never closed", rel, in.line)
	}
	return p
}

// slugify is GitHub's anchor for a heading: lower case, letters, digits,
// spaces as hyphens, hyphens and underscores kept, the rest dropped.
func slugify(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// markdownFiles lists every Markdown file of the repository but test data.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".md") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	inlineCode = regexp.MustCompile("`[^`]*`")
	linkRE     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// TestLinksResolve checks every relative link of every Markdown file: the
// file or directory exists, and the anchor is a heading of its page.
func TestLinksResolve(t *testing.T) {
	pages := map[string]*page{}
	files := markdownFiles(t)
	for _, f := range files {
		pages[f] = readPage(t, f)
	}
	checked := 0
	for _, f := range files {
		p := pages[f]
		for _, l := range p.prose {
			for _, m := range linkRE.FindAllStringSubmatch(inlineCode.ReplaceAllString(l.text, ""), -1) {
				target := m[1]
				if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
					continue
				}
				checked++
				file, anchor, _ := strings.Cut(target, "#")
				dest := f
				if file != "" {
					dest = filepath.ToSlash(filepath.Join(filepath.Dir(f), file))
					if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
						t.Errorf("%s:%d: link %q: no file %s", f, l.n, target, dest)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				q, ok := pages[dest]
				if !ok {
					t.Errorf("%s:%d: link %q: an anchor into %s, which is no Markdown page", f, l.n, target, dest)
					continue
				}
				if !q.anchors[anchor] {
					t.Errorf("%s:%d: link %q: %s has no heading #%s", f, l.n, target, dest, anchor)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d relative links found: the link pattern is broken", checked)
	}
}

// TestConfigBlocks keeps every configuration the front door and docs/ show
// true: a YAML or properties block names the file it is (<!-- file: PATH
// -->), is that file byte for byte, and the file loads without a warning;
// or it is marked a fragment of a configuration (<!-- fragment -->) and
// parses as its format.
func TestConfigBlocks(t *testing.T) {
	files := []string{"README.md"}
	for _, f := range markdownFiles(t) {
		if strings.HasPrefix(f, "docs/") || strings.HasPrefix(f, "examples/") {
			files = append(files, f)
		}
	}
	named := 0
	for _, f := range files {
		for _, b := range readPage(t, f).blocks {
			if b.lang != "yaml" && b.lang != "properties" {
				if b.marker != "" {
					t.Errorf("%s:%d: a %q block marked %q: only yaml and properties blocks are configurations", f, b.line, b.lang, b.marker)
				}
				continue
			}
			switch {
			case b.marker == "fragment":
				if err := parsesAs(b.lang, b.body); err != nil {
					t.Errorf("%s:%d: fragment does not parse as %s: %v", f, b.line, b.lang, err)
				}
			case strings.HasPrefix(b.marker, "file:"):
				named++
				checkNamedBlock(t, f, b, strings.TrimSpace(strings.TrimPrefix(b.marker, "file:")))
			default:
				t.Errorf("%s:%d: %s block without <!-- file: PATH --> or <!-- fragment --> above it", f, b.line, b.lang)
			}
		}
	}
	if named == 0 {
		t.Fatal("no block names its file: the README's minimal configuration should")
	}
}

func checkNamedBlock(t *testing.T, page string, b block, path string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Errorf("%s:%d: names %s: %v", page, b.line, path, err)
		return
	}
	if !bytes.Equal([]byte(b.body), want) {
		t.Errorf("%s:%d: the block differs from %s: copy the file into it", page, b.line, path)
	}
	cfg, err := config.Load(filepath.Join(root, path), config.Options{Offline: true})
	if err != nil {
		t.Errorf("%s:%d: %s does not load: %v", page, b.line, path, err)
		return
	}
	for _, w := range cfg.Warnings() {
		t.Errorf("%s:%d: %s loads with a warning: %s", page, b.line, path, w)
	}
}

// parsesAs checks a fragment's syntax: YAML, or properties lines (a key
// with = or :, comments, blank lines).
func parsesAs(lang, body string) error {
	if lang == "yaml" {
		var v any
		return yaml.Unmarshal([]byte(body), &v)
	}
	for i, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "!") {
			continue
		}
		if !strings.ContainsAny(l, "=:") {
			return fmt.Errorf("line %d: %q is no key = value", i+1, l)
		}
	}
	return nil
}
