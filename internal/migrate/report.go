package migrate

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/status"
)

// Story is a migration's report for a change ticket: every topic and
// group of every flow that has a part in the migration, where it stands,
// since when, and every step the journal recorded with its checks and
// figures. It is what `kmirror migrate report` prints, as JSON or as
// Markdown.
type Story struct {
	Time  time.Time   `json:"time"`
	Flows []FlowStory `json:"flows"`
}

// FlowStory is one flow's part of a Story.
type FlowStory struct {
	Flow string `json:"flow"`
	// Journal is the topic on the target the steps were read from.
	Journal string    `json:"journal"`
	Groups  []Subject `json:"groups"`
	Topics  []Subject `json:"topics"`
	// Errors lists what could not be read; the rest is reported.
	Errors []string `json:"errors"`
}

// Subject is one topic or group: its phase (journal.Phase), since when
// and by what, and its recorded steps, oldest first.
type Subject struct {
	Name string `json:"name"`
	// Target is a topic's name on the target.
	Target string `json:"target,omitempty"`
	// Topics are the topics a group reads, now or as its steps recorded.
	Topics   []string           `json:"topics,omitempty"`
	Phase    string             `json:"phase"`
	Since    *time.Time         `json:"since,omitempty"`
	By       string             `json:"by,omitempty"`
	Timeline []status.StepEvent `json:"timeline"`
}

// NewStory makes the story of report r, a status report with steps;
// journals names each flow's journal topic.
func NewStory(r status.Report, journals map[string]string) Story {
	s := Story{Time: r.Time, Flows: []FlowStory{}}
	for _, f := range r.Flows {
		fs := FlowStory{Flow: f.Name, Journal: journals[f.Name], Groups: []Subject{}, Topics: []Subject{}, Errors: f.Errors}
		if fs.Errors == nil {
			fs.Errors = []string{}
		}
		for _, g := range f.Groups {
			if g.Step == nil || g.Step.Phase == "" {
				continue
			}
			var topics []string
			for _, p := range g.Partitions {
				topics = append(topics, p.Topic)
			}
			for _, e := range g.Step.Timeline {
				topics = append(topics, e.Topics...)
			}
			slices.Sort(topics)
			fs.Groups = append(fs.Groups, subject(g.Group, "", slices.Compact(topics), g.Step))
		}
		for _, t := range f.Topics {
			if t.Step != nil && t.Step.Phase != "" {
				fs.Topics = append(fs.Topics, subject(t.Topic, t.Target, nil, t.Step))
			}
		}
		s.Flows = append(s.Flows, fs)
	}
	return s
}

func subject(name, target string, topics []string, st *status.Step) Subject {
	tl := st.Timeline
	if tl == nil {
		tl = []status.StepEvent{}
	}
	return Subject{Name: name, Target: target, Topics: topics, Phase: st.Phase, Since: st.Since, By: st.By, Timeline: tl}
}

// Markdown writes the story as a Markdown document: per flow, a summary
// of the phases, then each group and topic with a table of its steps.
// Times are in UTC.
func (s Story) Markdown(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# Migration report\n\nMade %s by `kmirror migrate report` from the migration's journal and the clusters.\n", utc(s.Time))
	for _, f := range s.Flows {
		fmt.Fprintf(b, "\n## Flow %s\n\n", md(f.Flow))
		if f.Journal != "" {
			fmt.Fprintf(b, "Journal: topic `%s` on the target.\n\n", f.Journal)
		}
		for _, e := range f.Errors {
			fmt.Fprintf(b, "> **Not read:** %s\n\n", md(e))
		}
		b.WriteString("| Phase | Groups | Topics |\n|---|---:|---:|\n")
		for _, p := range journal.Order {
			g, t := count(f.Groups, p), count(f.Topics, p)
			if g+t > 0 {
				fmt.Fprintf(b, "| %s | %d | %d |\n", p, g, t)
			}
		}
		if len(f.Groups)+len(f.Topics) == 0 {
			b.WriteString("| (no topic or group in a migration) | 0 | 0 |\n")
		}
		writeSubjects(b, "Consumer groups", f.Groups)
		writeSubjects(b, "Topics", f.Topics)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func count(ss []Subject, p journal.Phase) int {
	n := 0
	for _, s := range ss {
		if s.Phase == string(p) {
			n++
		}
	}
	return n
}

func writeSubjects(b *strings.Builder, title string, ss []Subject) {
	if len(ss) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### %s\n", title)
	for _, s := range ss {
		name := md(s.Name)
		if s.Target != "" && s.Target != s.Name {
			name += " → " + md(s.Target)
		}
		fmt.Fprintf(b, "\n#### %s: %s", name, s.Phase)
		if s.Since != nil {
			fmt.Fprintf(b, " since %s", utc(*s.Since))
		}
		b.WriteString("\n\n")
		if len(s.Topics) > 0 {
			fmt.Fprintf(b, "Reads %s.\n\n", md(strings.Join(s.Topics, ", ")))
		}
		if len(s.Timeline) == 0 {
			b.WriteString("No step recorded yet: the phase is what the clusters show now.\n")
			continue
		}
		b.WriteString("| Time | Step | Result | By |\n|---|---|---|---|\n")
		for _, e := range s.Timeline {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", utc(e.Time), e.Event, md(e.Summary()), md(e.By))
		}
	}
}

func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// md makes text safe in a Markdown table cell or heading: no line
// breaks, and the characters that would end a cell or start markup
// escaped. '>' starts markup only at the start of a line, where md's
// text never stands, so "source->target" reads as written.
func md(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]<()#+!|~", r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
