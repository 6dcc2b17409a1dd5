package browsertest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Page is what kmirror's status page shows, read back from its DOM through
// the data-* hooks the page sets for tests.
type Page struct {
	// State is the root's data-state: "loading" before the first answer,
	// "ok" after a successful poll, "error" after a failed one.
	State string
	// Polls counts the successful polls; Updated changes with each.
	Polls   int
	Updated string
	// Error is the error banner's text, "" when hidden.
	Error string
	Title string
	Flows []Flow
	// Images counts <img> elements: the page has none, so any would come
	// from markup injected through the report.
	Images int
}

// Flow is one flow's section.
type Flow struct {
	Name   string
	Errors []string
	// State is the flow's state as shown, with its reason; Workers the
	// line that names its workers, and WorkerCount how many (-1 when
	// unknown).
	State, Workers string
	WorkerCount    int
	// Apps are the rows of the migration table: the topics and groups in
	// a migration, the finished ones (folded away) included.
	Apps            []App
	Topics          []Topic
	Blocked         []Blocked
	Groups          []Group
	HeartbeatPoints int // samples in the heartbeat chart
}

// Topic is a row of a flow's topics table.
type Topic struct {
	Topic, Target    string
	LagRecords       int64
	LagSeconds       float64
	RecordsPerSecond *float64 // nil when the page shows none
	Copied           int64
	LagBarPercent    float64 // width of the lag bar
	// Stopped are the notes on partitions that are not copied.
	Stopped []string
}

// App is a topic or group in the migration table.
type App struct {
	Kind, Name, Phase string
	// InPhase is the time in phase in seconds, "" when the phase's start
	// is unknown.
	InPhase string
	// Finished is true for a row folded away under "Finished"; Member
	// for a topic listed under the group that reads it.
	Finished, Member bool
	// Timeline are the recorded steps shown, oldest first.
	Timeline []string
	// LagPoints counts the points of the topic's lag sparkline; -1 when
	// the row has none.
	LagPoints int
	// Copied is the records copied a finished topic's row shows; nil
	// when the row shows no such figure.
	Copied *int64
}

// Blocked is a row of a flow's blocked-topics table.
type Blocked struct{ Topic, Reason string }

// Group is a row of a flow's consumer-groups table.
type Group struct {
	Group, Verdict                 string
	Badge, BadgeClass              string // the verdict badge's text and class
	ActiveOnSource, ActiveOnTarget int
	Reasons                        []string
}

// Read reads the page from a DOM LoadPage returned, failing the test when
// it cannot.
func Read(t testing.TB, dom string) Page {
	t.Helper()
	p, err := ReadPage(dom)
	if err != nil {
		t.Fatalf("read status page: %v\n%s", err, dom)
	}
	return p
}

var widthRE = regexp.MustCompile(`width:\s*([0-9.]+)%`)

// ReadPage reads the page from a DOM LoadPage returned.
func ReadPage(dom string) (Page, error) {
	doc, err := ParseDOM(dom)
	if err != nil {
		return Page{}, err
	}
	app, ok := doc.Find("id", "app")
	if !ok {
		return Page{}, fmt.Errorf("no element with id=app: not the status page")
	}
	var r reader
	p := Page{
		State:   app.Attrs["data-state"],
		Polls:   r.int(app.Attrs["data-polls"]),
		Updated: app.Attrs["data-updated"],
		Images:  len(doc.Tags("img")),
	}
	if titles := doc.Tags("title"); len(titles) > 0 {
		p.Title = titles[0].Text()
	}
	if banner, ok := doc.Find("id", "error"); ok {
		if _, hidden := banner.Attrs["hidden"]; !hidden {
			p.Error = strings.TrimSpace(banner.Text())
		}
	}
	for _, sec := range app.All("data-flow", "") {
		f := Flow{Name: sec.Attrs["data-flow"], State: r.field(sec, "state"), WorkerCount: -1}
		if w, ok := sec.Find("data-field", "workers"); ok {
			f.Workers = strings.TrimSpace(w.Text())
			if n, ok := w.Attrs["data-workers"]; ok {
				f.WorkerCount = r.int(n)
			}
		}
		if errs, ok := sec.Find("data-field", "errors"); ok {
			for _, li := range errs.Tags("li") {
				f.Errors = append(f.Errors, li.Text())
			}
		}
		finished := map[*Element]bool{}
		if det, ok := sec.Find("data-field", "finished"); ok {
			for _, tr := range det.All("data-app", "") {
				finished[tr] = true
			}
		}
		for _, tr := range sec.All("data-app", "") {
			a := App{Kind: tr.Attrs["data-kind"], Name: r.field(tr, "name"), Phase: tr.Attrs["data-phase"],
				InPhase: r.field(tr, "inPhase"), Finished: finished[tr], LagPoints: -1,
				Member: slices.Contains(strings.Fields(tr.Attrs["class"]), "member")}
			for _, li := range tr.All("data-event", "") {
				a.Timeline = append(a.Timeline, li.Attrs["data-event"])
			}
			if chart, ok := tr.Find("data-chart", "lag"); ok {
				a.LagPoints = r.int(chart.Attrs["data-points"])
			}
			if fig, ok := tr.Find("data-field", "copied"); ok {
				n := int64(r.int(fig.Attrs["data-value"]))
				a.Copied = &n
			}
			f.Apps = append(f.Apps, a)
		}
		for _, tr := range sec.All("data-topic", "") {
			tp := Topic{
				Topic:      tr.Attrs["data-topic"],
				Target:     r.field(tr, "target"),
				LagRecords: int64(r.int(r.field(tr, "lagRecords"))),
				LagSeconds: r.float(r.field(tr, "lagSeconds")),
				Copied:     int64(r.int(r.field(tr, "copied"))),
			}
			if v := r.field(tr, "recordsPerSecond"); v != "" {
				rate := r.float(v)
				tp.RecordsPerSecond = &rate
			}
			if bar, ok := tr.Find("data-field", "lagBar"); ok {
				for _, d := range bar.Tags("div") {
					if m := widthRE.FindStringSubmatch(d.Attrs["style"]); m != nil {
						tp.LagBarPercent = r.float(m[1])
					}
				}
			}
			for _, note := range tr.All("data-stopped", "") {
				tp.Stopped = append(tp.Stopped, note.Text())
			}
			f.Topics = append(f.Topics, tp)
		}
		for _, tr := range sec.All("data-blocked", "") {
			f.Blocked = append(f.Blocked, Blocked{Topic: tr.Attrs["data-blocked"], Reason: r.field(tr, "reason")})
		}
		for _, tr := range sec.All("data-group", "") {
			g := Group{
				Group:          tr.Attrs["data-group"],
				Verdict:        tr.Attrs["data-verdict"],
				ActiveOnSource: r.int(r.field(tr, "activeOnSource")),
				ActiveOnTarget: r.int(r.field(tr, "activeOnTarget")),
			}
			if cell, ok := tr.Find("data-field", "verdict"); ok {
				if spans := cell.Tags("span"); len(spans) > 0 {
					g.Badge, g.BadgeClass = spans[0].Text(), spans[0].Attrs["class"]
				}
			}
			if cell, ok := tr.Find("data-field", "reasons"); ok {
				for _, li := range cell.Tags("li") {
					g.Reasons = append(g.Reasons, li.Text())
				}
			}
			f.Groups = append(f.Groups, g)
		}
		if chart, ok := sec.Find("data-chart", "heartbeat"); ok {
			f.HeartbeatPoints = r.int(chart.Attrs["data-points"])
		}
		p.Flows = append(p.Flows, f)
	}
	return p, r.err
}

// reader converts the page's values, keeping the first error.
type reader struct{ err error }

func (r *reader) field(e *Element, name string) string {
	v, ok := e.Field(name)
	if !ok && r.err == nil {
		r.err = fmt.Errorf("%s %q has no data-field=%q", e.Tag, e.Attrs, name)
	}
	return v
}

func (r *reader) int(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("not an integer: %q", s)
	}
	return n
}

func (r *reader) float(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("not a number: %q", s)
	}
	return f
}
