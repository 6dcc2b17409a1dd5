package preflight

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A user granted nothing at all gets the whole table, derived from the
// configuration: every permission the KafkaUsers name, each missing or
// unknown, and a note for what it cannot list; the KafkaUsers
// --kafkauser prints then grant all of it.
func TestNothingGranted(t *testing.T) {
	src := newSecured(t, "mirror-source")
	tgt := newSecured(t, "mirror-target")
	prepare(t, src, "app1-t1", "app2-x")
	// The seed's mirror: literal topics, groups by prefix.
	cfg := loadConfig(t, src, tgt, `    topicsPattern: "app1-t1, app2-x"
    groupsPattern: "^(app1.*|app2.*)$"
    checkpointConnector:
      config:
        sync.group.offsets.enabled: true
`)
	rep := run(t, cfg)
	got := map[string]Status{}
	for _, r := range rep.Results {
		key := fmt.Sprintf("%s %s %s", r.Cluster, r.Resource, r.Operation)
		got[key] = r.Status
		if r.Status == Present {
			t.Errorf("%s: present (%s), with nothing granted", key, r.Reason)
		}
	}
	// What the KafkaUsers grant is what the table must show.
	f := cfg.Flows[0]
	var wants []string
	for _, n := range Merge(Derive(f, PatternScope(f).WithMM2(f, cfg.Cluster(f.Target)))) {
		key := fmt.Sprintf("%s %s %s", n.Cluster, n.Resource, n.Operation)
		wants = append(wants, key)
		if _, ok := got[key]; !ok {
			t.Errorf("no row for %s", key)
		}
	}
	if len(missing(rep)) == 0 {
		t.Error("nothing missing")
	}
	for _, want := range []string{`cannot list topic "app1-t1" on source: needs Describe on topic:app1-t1`,
		`cannot list the groups of source matching group:app1* or group:app2*`} {
		if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, want) }) {
			t.Errorf("no note %q in\n%s", want, strings.Join(rep.Notes, "\n"))
		}
	}
	if t.Failed() {
		t.Logf("wanted rows:\n%s\ngot:\n%+v", strings.Join(wants, "\n"), rep.Results)
		return
	}

	out, err := YAML(KafkaUsers(cfg, UserOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range decodeUsers(t, out) {
		apply(t, map[string]*secured{"source": src, "target": tgt}[u.Metadata.Labels["strimzi.io/cluster"]].adm, u)
	}
	rep = run(t, cfg)
	if got := missing(rep); len(got) > 0 {
		t.Fatalf("with the KafkaUsers' ACLs, missing %q", got)
	}
}
