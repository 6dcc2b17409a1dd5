package config

import (
	"fmt"
	"strings"
)

// Level is how serious a diagnostic is.
type Level int

const (
	LevelError   Level = iota // the configuration cannot be used
	LevelWarning              // probably a mistake; an error with --strict
	LevelNote                 // accepted without effect, for the record
)

func (l Level) String() string {
	switch l {
	case LevelError:
		return "error"
	case LevelWarning:
		return "warning"
	}
	return "note"
}

// Diagnostic is one finding about a configuration, naming the key as the
// user wrote it.
type Diagnostic struct {
	Level Level
	Key   string // e.g. spec.mirrors[0].sourceConnector.tasksMax or A->B.topics
	Line  int    // 0 when unknown
	Msg   string
}

func (d Diagnostic) String() string {
	if at := d.where(); at != "" {
		return at + ": " + d.Msg
	}
	return d.Msg
}

// where is the key and line: "spec.replicas (line 9)".
func (d Diagnostic) where() string {
	switch {
	case d.Key != "" && d.Line > 0:
		return fmt.Sprintf("%s (line %d)", d.Key, d.Line)
	case d.Key != "":
		return d.Key
	case d.Line > 0:
		return fmt.Sprintf("line %d", d.Line)
	}
	return ""
}

// Error is an unusable configuration: every error found, at once.
type Error struct {
	Path   string
	Errors []Diagnostic
}

func (e *Error) Error() string {
	if len(e.Errors) == 1 {
		return fmt.Sprintf("%s: %s", e.Path, e.Errors[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems:", e.Path, len(e.Errors))
	for _, d := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(d.String())
	}
	return b.String()
}

// loc is where in the file a value was written.
type loc struct {
	key  string
	line int
}

// diags collects diagnostics while loading.
type diags struct{ list []Diagnostic }

// add records a diagnostic once: a top-level properties key applies to every
// flow but is reported one time.
func (d *diags) add(level Level, at loc, format string, args ...any) {
	x := Diagnostic{Level: level, Key: at.key, Line: at.line, Msg: fmt.Sprintf(format, args...)}
	for _, y := range d.list {
		if y == x {
			return
		}
	}
	d.list = append(d.list, x)
}

func (d *diags) errorf(at loc, format string, args ...any) { d.add(LevelError, at, format, args...) }
func (d *diags) warnf(at loc, format string, args ...any)  { d.add(LevelWarning, at, format, args...) }
func (d *diags) notef(at loc, format string, args ...any)  { d.add(LevelNote, at, format, args...) }
