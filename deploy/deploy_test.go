package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kmirror/kmirror/deploy"
)

// targetLabels are attached by Prometheus to every scraped series.
var targetLabels = []string{"job", "instance"}

const (
	dashboardFile = "grafana/kmirror-dashboard.json"
	rulesFile     = "prometheus/kmirror-alerts.yaml"
)

// A rules file as Prometheus reads it; KnownFields rejects any other key.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	f, err := os.Open(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var rf ruleFile
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

// dashboard is the part of Grafana's dashboard model the test looks at.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string      `json:"name"`
			Datasource *datasource `json:"datasource"`
			Expr       string      `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Datasource *datasource              `json:"datasource"`
	Targets    []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *datasource     `json:"datasource"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens the rows, collapsed ones included.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// query is one PromQL expression and where it comes from, for messages.
type query struct{ where, expr string }

func dashboardQueries(d dashboard) []query {
	var qs []query
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			qs = append(qs, query{fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			qs = append(qs, query{fmt.Sprintf("variable %s", v.Name), v.Definition})
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			qs = append(qs, query{fmt.Sprintf("annotation %q", a.Name), a.Expr})
		}
	}
	return qs
}

func ruleQueries(rf ruleFile) []query {
	var qs []query
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			qs = append(qs, query{fmt.Sprintf("rule %s", r.Alert+r.Record), r.Expr})
		}
	}
	return qs
}

func TestRules(t *testing.T) {
	rf := loadRules(t)
	if len(rf.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" {
			t.Error("a rule group has no name")
		}
		for i, r := range g.Rules {
			where := fmt.Sprintf("group %s rule %d (%s)", g.Name, i, r.Alert)
			if r.Alert == "" {
				t.Errorf("%s: not an alert (alert is empty)", where)
			}
			if seen[r.Alert] {
				t.Errorf("%s: alert name used twice", where)
			}
			seen[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expr", where)
			}
			if r.For == "" {
				t.Errorf("%s: no for", where)
			} else if _, err := parseDuration(r.For); err != nil {
				t.Errorf("%s: for: %v", where, err)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: labels.severity is %q, want warning or critical", where, s)
			}
			for _, k := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[k]) == "" {
					t.Errorf("%s: no annotations.%s", where, k)
				}
			}
		}
	}
	// The alerts deploy/README.md documents.
	for _, name := range []string{"KmirrorDown", "KmirrorDataLossGap", "KmirrorPartitionsStopped",
		"KmirrorReplicationLagGrowing", "KmirrorReplicationLagHigh", "KmirrorHeartbeatMissing",
		"KmirrorGroupUntranslated", "KmirrorTransactionsAborting", "KmirrorNoWorker", "KmirrorFlowStalled"} {
		if !seen[name] {
			t.Errorf("alert %s is missing", name)
		}
	}
}

// parseDuration reads a Prometheus duration: one or more <int><unit> with the
// units ms, s, m, h, d, w, y (Go's time.ParseDuration lacks d, w and y).
func parseDuration(s string) (time.Duration, error) {
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute,
		"h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour}
	parts := regexp.MustCompile(`^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$`)
	if !parts.MatchString(s) {
		return 0, fmt.Errorf("%q is not a Prometheus duration", s)
	}
	var d time.Duration
	for _, m := range regexp.MustCompile(`([0-9]+)(ms|s|m|h|d|w|y)`).FindAllStringSubmatch(s, -1) {
		var n int64
		fmt.Sscan(m[1], &n)
		d += time.Duration(n) * units[m[2]]
	}
	return d, nil
}

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: the datasource variable needs 36 or later", d.SchemaVersion)
	}

	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["datasource"]; v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("variable datasource: type %q query %s, want a prometheus datasource variable", v.Type, v.Query)
	}
	for _, name := range []string{"source", "target", "topic", "group"} {
		v, ok := vars[name]
		if !ok {
			t.Errorf("variable %s is missing", name)
			continue
		}
		if v.Type != "query" || !strings.HasPrefix(v.Definition, "label_values(") || !strings.HasSuffix(v.Definition, ", "+name+")") {
			t.Errorf("variable %s: want a query variable label_values(…, %s), have %s %q", name, name, v.Type, v.Definition)
		}
		checkDatasource(t, "variable "+name, v.Datasource)
	}

	ids := map[int]string{}
	panels := allPanels(d.Panels)
	for _, p := range panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside Grafana's 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		checkDatasource(t, fmt.Sprintf("panel %q", p.Title), p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkDatasource(t, fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Datasource)
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
			}
		}
	}

	var rows []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows = append(rows, p.Title)
		}
	}
	want := []string{"Overview", "Throughput", "Lag", "Latency", "Consumer groups", "Internals"}
	if !slices.Equal(rows, want) {
		t.Errorf("rows %q, want %q", rows, want)
	}
}

// checkDatasource: every query goes to the data source the operator picks.
func checkDatasource(t *testing.T, where string, ds *datasource) {
	t.Helper()
	if ds == nil || ds.Type != "prometheus" || ds.UID != "${datasource}" {
		t.Errorf("%s: datasource %+v, want {prometheus ${datasource}}", where, ds)
	}
}

var (
	metricName = regexp.MustCompile(`\bkmirror_[a-zA-Z0-9_]*[a-zA-Z0-9]`)
	// A selector's matchers: kmirror_x{a="…", b=~"…"}. Values never hold '}'
	// here.
	selector = regexp.MustCompile(`\b(kmirror_[a-zA-Z0-9_]+)\s*\{([^}]*)\}`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"`)
)

// resolve maps a name used in a query to the metric that serves it: a
// histogram is queried through its _bucket, _sum and _count series.
func resolve(name string) (deploy.Metric, bool) {
	for _, m := range deploy.Metrics {
		if m.Name == name {
			return m, m.Type != "histogram"
		}
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		for _, m := range deploy.Metrics {
			if m.Name == base && m.Type == "histogram" {
				if suffix == "_bucket" {
					m.Labels = append(slices.Clip(m.Labels), "le")
				}
				return m, true
			}
		}
	}
	return deploy.Metric{}, false
}

// TestMetricNames: every kmirror_ metric a query names exists (a histogram
// through its series), and every label a selector matches on is one of its
// labels, so that no panel or alert is silently empty.
func TestMetricNames(t *testing.T) {
	qs := append(dashboardQueries(loadDashboard(t)), ruleQueries(loadRules(t))...)
	used := map[string]bool{}
	for _, q := range qs {
		if err := balanced(q.expr); err != nil {
			t.Errorf("%s: %v in %q", q.where, err, q.expr)
		}
		names := metricName.FindAllString(q.expr, -1)
		if len(names) == 0 && !strings.Contains(q.expr, "up{") {
			t.Errorf("%s: names no kmirror metric: %q", q.where, q.expr)
		}
		for _, name := range names {
			m, ok := resolve(name)
			if !ok {
				t.Errorf("%s: %s is not a kmirror metric (or a histogram queried without _bucket/_sum/_count)", q.where, name)
				continue
			}
			used[m.Name] = true
		}
		for _, sel := range selector.FindAllStringSubmatch(q.expr, -1) {
			m, ok := resolve(sel[1])
			if !ok {
				continue
			}
			rest := matcher.ReplaceAllString(sel[2], "")
			if strings.Trim(rest, " ,\n\t") != "" {
				t.Errorf("%s: cannot read the matchers {%s}", q.where, sel[2])
			}
			for _, mm := range matcher.FindAllStringSubmatch(sel[2], -1) {
				if !slices.Contains(m.Labels, mm[1]) && !slices.Contains(targetLabels, mm[1]) {
					t.Errorf("%s: %s has no label %q (labels %v)", q.where, sel[1], mm[1], m.Labels)
				}
			}
		}
	}
	// Every metric shows somewhere: on the dashboard or in an alert.
	for _, m := range deploy.Metrics {
		if !used[m.Name] {
			t.Errorf("%s is used by no panel and no alert", m.Name)
		}
	}
}

// balanced catches a lost parenthesis, bracket, brace or quote; it is no
// PromQL parser.
func balanced(expr string) error {
	var stack []rune
	pair := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for i := 0; i < len(expr); i++ {
		c := rune(expr[i])
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != pair[c] {
				return fmt.Errorf("unmatched %q at %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inString {
		return fmt.Errorf("unterminated string")
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return nil
}
