package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The Strimzi API group and the KafkaMirrorMaker2 kind.
const (
	strimziGroup = "kafka.strimzi.io/"
	strimziKind  = "KafkaMirrorMaker2"
	// kubeList is what kubectl get prints for several resources, or for
	// a kind without a name.
	kubeList = "List"
)

var nbsp = []byte("\u00a0")

// deploymentFields are Strimzi spec fields about running pods, which mean
// nothing to a kmirror process.
var deploymentFields = []string{
	"image", "resources", "livenessProbe", "readinessProbe", "jvmOptions", "jmxOptions",
	"logging", "clientRackInitImage", "rack", "metricsConfig", "tracing", "template", "externalConfiguration",
}

// loadYAML reads a Strimzi resource or a native YAML spec.
func (l *loader) loadYAML(data []byte) *raw {
	// Text copied from a web page, like the seed article's, is often
	// indented with non-breaking spaces, which YAML does not take for
	// indentation. No name or value kmirror reads may hold one, so they are
	// read as spaces.
	if i := bytes.Index(data, nbsp); i >= 0 {
		line := bytes.Count(data[:i], []byte("\n")) + 1
		l.d.warnf(loc{line: line}, "%d non-breaking spaces (U+00A0), as in text copied from a web page, are read as spaces", bytes.Count(data, nbsp))
		data = bytes.ReplaceAll(data, nbsp, []byte(" "))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			l.d.errorf(loc{}, "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			return nil
		}
		if len(doc.Content) > 0 {
			docs = append(docs, doc.Content[0])
		}
	}
	if len(docs) == 0 {
		l.d.errorf(loc{}, "the file is empty")
		return nil
	}
	// A file may hold several resources (e.g. KafkaUsers next to the
	// KafkaMirrorMaker2); kmirror reads the KafkaMirrorMaker2.
	var mm2 []ynode
	var kinds []string
	for _, doc := range docs {
		if doc.Kind != yaml.MappingNode {
			continue
		}
		o, _ := ynode{n: doc}.object(&diags{})
		k, ok := o.fields["kind"]
		if !ok {
			continue
		}
		kinds = append(kinds, k.Value)
		switch k.Value {
		case strimziKind:
			mm2 = append(mm2, ynode{n: doc})
		case kubeList:
			items, ok := l.listItems(o)
			if !ok {
				return nil
			}
			mm2 = append(mm2, items...)
		}
	}
	switch {
	case len(mm2) == 1:
		r := l.resource(mm2[0])
		if l.opts.Unresolved {
			r.document = l.encode(withoutClusterState(mm2[0].n))
		}
		return r
	case len(mm2) > 1 && mm2[0].path != "":
		var names []string
		for _, y := range mm2 {
			names = append(names, fmt.Sprintf("%s %s", y.path, resourceName(y.n)))
		}
		l.d.errorf(loc{key: "items", line: mm2[0].n.Line}, "the List holds %d KafkaMirrorMaker2 resources (%s); kmirror reads one: pick it, e.g. kubectl get kmm2 NAME -o yaml",
			len(mm2), strings.Join(names, ", "))
		return nil
	case len(mm2) > 1:
		l.d.errorf(loc{key: "kind"}, "the file holds %d KafkaMirrorMaker2 resources; give kmirror one", len(mm2))
		return nil
	case len(kinds) > 0:
		l.d.errorf(loc{key: "kind", line: docs[0].Line}, "%q is not a KafkaMirrorMaker2 resource", kinds[0])
		return nil
	case len(docs) > 1:
		l.d.errorf(loc{}, "a native configuration is one YAML document, not %d", len(docs))
		return nil
	}
	l.native = true
	r := &raw{format: FormatNative}
	if l.opts.Unresolved {
		r.document = l.encode(docs[0])
	}
	l.spec(ynode{n: docs[0]}, r)
	return r
}

// withoutClusterState is a resource as its author wrote it: without the
// status and the metadata the cluster keeps (uid, resourceVersion,
// managedFields, annotations such as kubectl's last applied
// configuration), which "kubectl get -o yaml" adds and which change while
// the resource does not.
func withoutClusterState(doc *yaml.Node) *yaml.Node {
	c := only(doc, "apiVersion", "kind", "metadata", "spec")
	for i := 0; i+1 < len(c.Content); i += 2 {
		if c.Content[i].Value == "metadata" {
			c.Content[i+1] = only(c.Content[i+1], "name", "namespace", "labels")
		}
	}
	return c
}

// only is a copy of a mapping with the named fields alone.
func only(n *yaml.Node, names ...string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return n
	}
	c := *n
	c.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if slices.Contains(names, n.Content[i].Value) {
			c.Content = append(c.Content, n.Content[i], n.Content[i+1])
		}
	}
	return &c
}

// encode writes one document back as YAML, comments kept.
func (l *loader) encode(doc *yaml.Node) []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		l.d.errorf(loc{line: doc.Line}, "encode the document again: %v", err)
		return nil
	}
	_ = enc.Close()
	return b.Bytes()
}

// listItems returns the KafkaMirrorMaker2 resources of a Kubernetes List,
// what "kubectl get kmm2 -o yaml" prints without a name, each with its
// path (items[0]) so that diagnostics name the key as written. Items of
// other kinds are warned about; a List without a KafkaMirrorMaker2 is an
// error. ok is false after an error.
func (l *loader) listItems(o *yobj) (mm2 []ynode, ok bool) {
	if api := o.fields["apiVersion"]; api != nil && api.Value != "v1" {
		l.d.errorf(loc{key: "apiVersion", line: api.Line}, "%q is not the version of a Kubernetes List (v1)", api.Value)
		return nil, false
	}
	items := o.list("items", l.d)
	if len(items) == 0 && !o.has("items") {
		l.d.errorf(loc{key: "items", line: o.n.Line}, "required: a List holds its resources in items")
		return nil, false
	}
	var others []string
	for _, y := range items {
		kind := ""
		if y.n.Kind == yaml.MappingNode {
			io, _ := y.object(&diags{})
			if k := io.fields["kind"]; k != nil && k.Kind == yaml.ScalarNode {
				kind = k.Value
			}
		}
		if kind == strimziKind {
			mm2 = append(mm2, y)
			continue
		}
		what := "an item without a kind"
		if kind != "" {
			what = fmt.Sprintf("%s %s", kind, resourceName(y.n))
		}
		others = append(others, what)
		l.d.warnf(y.at(), "%s ignored: kmirror reads the KafkaMirrorMaker2", what)
	}
	if len(mm2) == 0 {
		if len(items) == 0 {
			l.d.errorf(loc{key: "items", line: o.n.Line}, "the List is empty: it holds no KafkaMirrorMaker2 resource")
		} else {
			l.d.errorf(loc{key: "items", line: items[0].n.Line}, "the List holds no KafkaMirrorMaker2 resource, only %s", strings.Join(others, ", "))
		}
		return nil, false
	}
	return mm2, true
}

// resourceName is a resource's metadata.name, quoted, or "(no name)".
func resourceName(n *yaml.Node) string {
	o, _ := ynode{n: n}.object(&diags{})
	if md := o.fields["metadata"]; md != nil {
		mo, _ := ynode{n: md}.object(&diags{})
		if name := mo.fields["name"]; name != nil && name.Kind == yaml.ScalarNode && name.Value != "" {
			return strconv.Quote(name.Value)
		}
	}
	return "(no name)"
}

func (l *loader) resource(y ynode) *raw {
	doc := y.n
	o, _ := y.object(l.d)
	r := &raw{format: FormatStrimzi}
	api, at, _ := o.required("apiVersion", l.d)
	o.get("kind")
	if md, ok := o.get("metadata"); ok {
		// Only the name and namespace matter; labels and annotations
		// are Kubernetes' business.
		if mo, ok := md.object(l.d); ok {
			if n := mo.fields["name"]; n != nil && n.Kind == yaml.ScalarNode {
				r.name = n.Value
			}
			if n := mo.fields["namespace"]; n != nil && n.Kind == yaml.ScalarNode {
				r.namespace = n.Value
			}
		}
	}
	o.get("status")
	version, ok := strings.CutPrefix(api, strimziGroup)
	switch {
	case !ok && api != "":
		l.d.errorf(at, "%q is not a Strimzi API version (%sv1 or %sv1beta2)", api, strimziGroup, strimziGroup)
	case version == "v1", version == "v1beta2", version == "v1beta1", version == "v1alpha1":
		r.version, l.version = api, version
	case ok:
		l.d.errorf(at, "%q is not a KafkaMirrorMaker2 version kmirror knows (v1, v1beta2)", api)
	}
	spec, ok := o.get("spec")
	if !ok {
		o.missing("spec", loc{key: child(y.path, "spec"), line: doc.Line}, l.d)
	}
	o.finish(l.d, nil)
	if !ok {
		return r
	}
	l.spec(spec, r)
	return r
}

// spec reads the spec of either API version: v1 has spec.target and
// mirrors[].source, v1beta2 has clusters[], connectCluster and
// mirrors[].sourceCluster/targetCluster.
func (l *loader) spec(y ynode, r *raw) {
	o, ok := y.object(l.d)
	if !ok {
		return
	}
	o.expect = []string{"clusters", "connectCluster", "mirrors", "target", "replicas", "version"}
	ignored := map[string]string{"version": "kmirror speaks to any Kafka version the brokers offer"}
	for _, f := range deploymentFields {
		ignored[f] = "a Kubernetes deployment field"
	}
	if n, at, ok := o.integer("replicas", l.d); ok {
		r.replicas = n
		l.d.notef(at, "kmirror starts no processes: run %d kmirror workers with this configuration to share the work", n)
	}
	v1 := o.has("target")
	if v1 {
		if o.has("clusters") || o.has("connectCluster") {
			l.d.errorf(loc{key: child(y.path, "target")}, "spec.target (API v1) cannot be combined with clusters and connectCluster (API v1beta2)")
		}
		t, _ := o.get("target")
		rc := l.cluster(t, true)
		r.clusters = append(r.clusters, rc)
		r.target, r.targetAt = rc.alias, rc.at
	} else {
		if tgt, at, ok := o.required("connectCluster", l.d); ok {
			r.target, r.targetAt = tgt, at
		}
		for _, c := range o.list("clusters", l.d) {
			r.clusters = append(r.clusters, l.cluster(c, false))
		}
	}
	mirrors := o.list("mirrors", l.d)
	if !o.has("mirrors") {
		o.missing("mirrors", loc{key: child(y.path, "mirrors"), line: y.n.Line}, l.d)
	}
	for _, m := range mirrors {
		if f := l.mirror(m, v1, r); f != nil {
			r.flows = append(r.flows, f)
		}
	}
	o.finish(l.d, ignored)
}

func (l *loader) mirror(y ynode, v1 bool, r *raw) *rawFlow {
	o, ok := y.object(l.d)
	if !ok {
		return nil
	}
	f := &rawFlow{where: y.path}
	o.expect = []string{"sourceCluster", "targetCluster", "source", "sourceConnector", "checkpointConnector",
		"heartbeatConnector", "topicsPattern", "topicsExcludePattern", "groupsPattern", "groupsExcludePattern"}
	if v1 {
		src, ok := o.get("source")
		if !ok {
			o.missing("source", loc{key: child(y.path, "source"), line: y.n.Line}, l.d)
			return nil
		}
		rc := l.cluster(src, false)
		r.clusters = append(r.clusters, rc)
		f.source, f.srcAt = rc.alias, rc.at
		f.target, f.tgtAt = r.target, r.targetAt
	} else {
		f.source, f.srcAt, _ = o.required("sourceCluster", l.d)
		f.target, f.tgtAt, _ = o.required("targetCluster", l.d)
	}
	patterns := []struct{ field, key string }{
		{"topicsPattern", KeyTopics}, {"topicsExcludePattern", KeyTopicsExclude},
		{"groupsPattern", KeyGroups}, {"groupsExcludePattern", KeyGroupsExclude},
	}
	for _, p := range patterns {
		if v, at, ok := o.str(p.field, l.d); ok {
			f.connector = append(f.connector, entry{key: p.key, value: v, at: at, layer: 1, group: "pattern"})
		}
	}
	// The deprecated blacklist fields lose to the exclude fields, as in Strimzi.
	for _, p := range []struct{ field, key, now string }{
		{"topicsBlacklistPattern", KeyTopicsExclude, "topicsExcludePattern"},
		{"groupsBlacklistPattern", KeyGroupsExclude, "groupsExcludePattern"},
	} {
		if v, at, ok := o.str(p.field, l.d); ok {
			l.d.warnf(at, "deprecated; use %s", p.now)
			f.connector = append(f.connector, entry{key: p.key, value: v, at: at, layer: 0, group: "pattern"})
		}
	}
	for _, c := range []struct{ field, tasksKey string }{
		{"sourceConnector", KeyTasksMax},
		{"checkpointConnector", KeyCheckpointTasksMax},
		{"heartbeatConnector", ""},
	} {
		if cy, ok := o.get(c.field); ok {
			f.connector = append(f.connector, l.connector(cy, c.field, c.tasksKey)...)
		}
	}
	o.finish(l.d, nil)
	return f
}

func (l *loader) connector(y ynode, group, tasksKey string) []entry {
	o, ok := y.object(l.d)
	if !ok {
		return nil
	}
	o.expect = []string{"tasksMax", "config"}
	var out []entry
	if v, at, ok := o.str("tasksMax", l.d); ok {
		if tasksKey == "" {
			l.d.notef(at, "ignored: kmirror emits heartbeats from one task")
		} else {
			out = append(out, entry{key: tasksKey, value: v, at: at, layer: 2, group: group})
		}
	}
	for _, e := range o.entries("config", 1, group, l.d) {
		if e.key == KeyTasksMax && tasksKey != "" {
			e.key = tasksKey
		}
		out = append(out, e)
	}
	o.finish(l.d, map[string]string{
		"pause": "kmirror runs every configured flow", "state": "kmirror runs every configured flow",
		"autoRestart": "kmirror retries failures itself", "listOffsets": "a Kubernetes operator field",
		"alterOffsets": "a Kubernetes operator field", "version": "a Connect plugin version",
	})
	return out
}

// cluster reads a cluster: alias, bootstrapServers, tls, authentication,
// config; the v1 target also has Connect's group and storage topics.
func (l *loader) cluster(y ynode, target bool) *rawCluster {
	rc := &rawCluster{yaml: true, at: y.at()}
	o, ok := y.object(l.d)
	if !ok {
		return rc
	}
	o.expect = []string{"alias", "bootstrapServers", "tls", "authentication", "config"}
	rc.alias, rc.at, _ = o.required("alias", l.d)
	l.alias = rc.alias
	defer func() { l.alias = "" }()
	rc.bootstrap, rc.bootAt, _ = o.required("bootstrapServers", l.d)
	var ignored map[string]string
	if target {
		ignored = map[string]string{}
		for _, f := range []string{"configStorageTopic", "statusStorageTopic"} {
			ignored[f] = "a Kafka Connect setting; kmirror has no Connect worker"
		}
	}
	if t, ok := o.get("tls"); ok {
		rc.tls = l.tls(t)
	}
	if a, ok := o.get("authentication"); ok {
		l.authentication(a, rc)
	}
	rc.config = o.entries("config", 1, "cluster", l.d)
	if target {
		// Strimzi gives these fields to the Connect worker as group.id and
		// offset.storage.topic, the keys a v1beta2 target sets in its
		// config: the group MM2's workers ran in and the topic that holds
		// its positions, which a takeover and a hand-back must find.
		for _, f := range []struct{ field, key string }{{"groupId", keyConnectGroup}, {"offsetStorageTopic", keyConnectOffsetsTopic}} {
			if v, at, ok := o.str(f.field, l.d); ok {
				rc.config = append(rc.config, entry{key: f.key, value: v, at: at, layer: 2, group: "target"})
			}
		}
	}
	o.finish(l.d, ignored)
	return rc
}

func (l *loader) tls(y ynode) *TLS {
	o, ok := y.object(l.d)
	if !ok {
		return nil
	}
	cas, from := l.trustedCertificates(o.list("trustedCertificates", l.d))
	if l.native {
		if path, at, ok := o.str("caFile", l.d); ok {
			if data, ok := l.file(path, at); ok {
				cas, from = l.addCerts(cas, from, data, "file "+path, at)
			}
		}
	}
	t := newTLS(cas, from)
	if l.native {
		if name, _, ok := o.str("serverName", l.d); ok {
			t.ServerName = name
		}
		o.expect = []string{"trustedCertificates", "caFile", "serverName"}
	} else {
		o.expect = []string{"trustedCertificates"}
	}
	o.finish(l.d, nil)
	return t
}

// trustedCertificates reads a list of Strimzi's CertSecretSource
// ({secretName, certificate} or {secretName, pattern}): the certificates
// read, and where each comes from, for display (also when not read).
func (l *loader) trustedCertificates(items []ynode) (cas []*x509.Certificate, from []string) {
	for _, tc := range items {
		to, ok := tc.object(l.d)
		if !ok {
			continue
		}
		secret, at, ok := to.required("secretName", l.d)
		cert, certAt, hasCert := to.str("certificate", l.d)
		pattern, patAt, hasPattern := to.str("pattern", l.d)
		to.finish(l.d, nil)
		if !ok {
			continue
		}
		switch {
		case hasCert == hasPattern:
			l.d.errorf(at, "give exactly one of certificate and pattern")
		case hasCert:
			what := "secret " + secret + "/" + cert
			if data, read, ok := l.secret(secret, cert, UseTrust, certAt); ok && !read {
				from = append(from, what)
			} else if ok {
				cas, from = l.addCerts(cas, from, data, what, certAt)
			}
		default:
			files, read, ok := l.secretGlob(secret, pattern, UseTrust, patAt)
			if ok && !read {
				from = append(from, "secret "+secret+"/"+pattern)
				continue
			}
			for _, name := range files {
				if data, _, ok := l.secret(secret, name, UseTrust, patAt); ok {
					cas, from = l.addCerts(cas, from, data, "secret "+secret+"/"+name, patAt)
				}
			}
			if ok && len(files) == 0 {
				l.d.errorf(patAt, "no file of secret %q matches %q", secret, pattern)
			}
		}
	}
	return cas, from
}

func (l *loader) addCerts(cas []*x509.Certificate, from []string, data []byte, what string, at loc) ([]*x509.Certificate, []string) {
	certs, err := parseCertificates(data)
	if err != nil {
		l.d.errorf(at, "%s: %v", what, err)
		return cas, from
	}
	return append(cas, certs...), append(from, what)
}

// Strimzi authentication types.
const (
	authTLS         = "tls"
	authSCRAMSHA256 = "scram-sha-256"
	authSCRAMSHA512 = "scram-sha-512"
	authPlain       = "plain"
	authOAuth       = "oauth"
)

func (l *loader) authentication(y ynode, rc *rawCluster) {
	o, ok := y.object(l.d)
	if !ok {
		return
	}
	typ, at, ok := o.required("type", l.d)
	if !ok {
		return
	}
	switch typ {
	case authTLS:
		o.expect = []string{"type", "certificateAndKey", "certFile", "keyFile"}
		var certPEM, keyPEM []byte
		var what, fromSecret string
		read := true
		if ck, ok := o.get("certificateAndKey"); ok {
			co, _ := ck.object(l.d)
			secret, _, ok1 := co.required("secretName", l.d)
			cert, certAt, ok2 := co.required("certificate", l.d)
			key, keyAt, ok3 := co.required("key", l.d)
			co.finish(l.d, nil)
			if !(ok1 && ok2 && ok3) {
				return
			}
			var read2, read3 bool
			certPEM, read2, ok2 = l.secret(secret, cert, UseCertificate, certAt)
			keyPEM, read3, ok3 = l.secret(secret, key, UseKey, keyAt)
			if !(ok2 && ok3) {
				return
			}
			what, fromSecret, read = "secret "+secret, secret, read2 && read3
		} else if l.native && (o.has("certFile") || o.has("keyFile")) {
			cert, certAt, ok1 := o.required("certFile", l.d)
			key, keyAt, ok2 := o.required("keyFile", l.d)
			if !(ok1 && ok2) {
				return
			}
			certPEM, ok1 = l.file(cert, certAt)
			keyPEM, ok2 = l.file(key, keyAt)
			if !(ok1 && ok2) {
				return
			}
			what = "file " + cert
		} else {
			l.d.errorf(at, "type tls needs certificateAndKey%s", map[bool]string{true: " or certFile and keyFile", false: ""}[l.native])
			return
		}
		var c *tls.Certificate
		if read {
			var err error
			if c, err = keyPair(certPEM, keyPEM); err != nil {
				l.d.errorf(at, "%s: %v", what, err)
				return
			}
		}
		if rc.tls == nil {
			l.d.errorf(at, "type tls needs the cluster's tls field: client certificates are sent over TLS")
			return
		}
		rc.tls.Certificate, rc.tls.CertificateFrom, rc.tls.CertificateSecret = c, what, fromSecret
	case authSCRAMSHA256, authSCRAMSHA512, authPlain:
		o.expect = []string{"type", "username", "passwordSecret", "passwordFile", "passwordEnv", "password"}
		user, _, ok := o.required("username", l.d)
		pw, ok2 := l.password(o, at)
		if !ok || !ok2 {
			return
		}
		rc.sasl = &SASL{Mechanism: strings.ToUpper(typ), Username: user, Password: pw}
	case authOAuth:
		if l.version == "v1" {
			l.d.warnf(at, "Strimzi's v1 API has no type oauth (deprecated since Strimzi 0.49 for type custom): Strimzi would refuse this resource; kmirror reads it as v1beta2 does")
		}
		o.expect = oauthFields
		if l.native {
			o.expect = append(slices.Clone(oauthFields), nativeOAuthFields...)
		}
		// Its fields are many: a misspelt one is reported even when
		// the rest cannot be used.
		if oa, ok := l.oauth(o, at); ok {
			rc.sasl = &SASL{Mechanism: MechanismOAuthBearer, OAuth: oa}
		}
	case "custom":
		l.d.errorf(at, "authentication type %q is not supported by kmirror (tls, scram-sha-256, scram-sha-512, plain, oauth)", typ)
		return
	default:
		l.d.errorf(at, "%q is not an authentication type (tls, scram-sha-256, scram-sha-512, plain, oauth)", typ)
		return
	}
	o.finish(l.d, nil)
}

// secretSource names the fields that may give one secret of an
// authentication: a Kubernetes secret ({secretName, <key>}), and in native
// YAML a file, an environment variable or the value itself ("" where the
// secret has no such field).
type secretSource struct {
	secret, key, file, env, inline string
	use                            Use // what the secret's key holds
}

var passwordSource = secretSource{secret: "passwordSecret", key: "password", file: "passwordFile", env: "passwordEnv", inline: "password", use: UsePassword}

// fields are the source's fields a configuration may hold.
func (s secretSource) fields(native bool) []string {
	if !native {
		return []string{s.secret}
	}
	var out []string
	for _, f := range []string{s.secret, s.file, s.env, s.inline} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// password reads the one password source of a SASL authentication.
func (l *loader) password(o *yobj, at loc) (Secret, bool) {
	pw, given, ok := l.secretFrom(o, passwordSource, at)
	if !given {
		if l.native {
			l.d.errorf(at, "give exactly one of %s", andList(passwordSource.fields(true)))
		} else {
			o.missing(passwordSource.secret, loc{key: child(o.path, passwordSource.secret), line: at.line}, l.d)
		}
	}
	return pw, given && ok
}

// secretFrom reads the secret src names in o. given is false when o holds
// none of its fields; ok is false after an error. A secret not read
// (Options.Offline, Options.Unresolved) is empty, with ok true.
func (l *loader) secretFrom(o *yobj, src secretSource, at loc) (s Secret, given, ok bool) {
	var sources []string
	for _, f := range src.fields(l.native) {
		if o.has(f) {
			sources = append(sources, f)
		}
	}
	switch len(sources) {
	case 0:
		return Secret{}, false, true
	case 1:
	default:
		l.d.errorf(at, "give exactly one of %s", andList(src.fields(true)))
		return Secret{}, true, false
	}
	switch sources[0] {
	case src.secret:
		ps, _ := o.get(src.secret)
		po, _ := ps.object(l.d)
		secret, _, ok1 := po.required("secretName", l.d)
		key, keyAt, ok2 := po.required(src.key, l.d)
		po.finish(l.d, nil)
		if !(ok1 && ok2) {
			return Secret{}, true, false
		}
		// Not read, the secret is empty; the authentication stays.
		data, read, ok := l.secret(secret, key, src.use, keyAt)
		s, full := l.nonEmpty(data, read && ok, keyAt, fmt.Sprintf("secret %q key %q", secret, key))
		return s, true, ok && full
	case src.file:
		path, pat, _ := o.str(src.file, l.d)
		data, ok := l.file(path, pat)
		s, full := l.nonEmpty(data, ok, pat, path)
		return s, true, ok && full
	case src.env:
		name, eat, _ := o.str(src.env, l.d)
		if l.ref(RefEnv, name, "", eat) {
			return Secret{}, true, false
		}
		v, ok := l.lookupEnv(name)
		if !ok {
			l.d.errorf(eat, "environment variable %s is not set", name)
			return Secret{}, true, false
		}
		s, full := l.nonEmpty([]byte(v), true, eat, "environment variable "+name)
		return s, true, full
	}
	y, _ := o.get(src.inline)
	if y.n.Kind != yaml.ScalarNode {
		l.d.errorf(y.at(), "must be a value")
		return Secret{}, true, false
	}
	if l.ref(RefInline, "", "", y.at()) {
		return Secret{}, true, false
	}
	s, full := l.nonEmpty([]byte(y.n.Value), true, y.at(), "the value")
	return s, true, full
}

// nonEmpty is a secret read, without the line end a file has; one read
// empty is an error (full is false), for it cannot authenticate.
func (l *loader) nonEmpty(data []byte, read bool, at loc, what string) (s Secret, full bool) {
	v := strings.TrimRight(string(data), "\r\n")
	if read && v == "" {
		l.d.errorf(at, "%s is empty", what)
		return Secret{}, false
	}
	return NewSecret(v), true
}

// andList joins names as "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// secretGlob lists the keys of a mounted secret that match a glob
// pattern; read is false when the pattern is recorded instead, as secret
// does.
func (l *loader) secretGlob(secret, pattern string, use Use, at loc) (names []string, read, ok bool) {
	dir, deferred, ok := l.secretDir(secret, at)
	if !ok {
		return nil, false, false
	}
	if deferred {
		l.deferSecret(secret, pattern, use, at)
		return nil, false, true
	}
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		l.d.errorf(at, "%q is not a valid pattern: %v", pattern, err)
		return nil, false, false
	}
	for _, m := range matches {
		names = append(names, filepath.Base(m))
	}
	return names, true, true
}
