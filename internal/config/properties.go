package config

import (
	"crypto/x509"
	"maps"
	"slices"
	"strings"

	"github.com/magiconair/properties"
)

// KeyClusters is the properties file's list of cluster aliases.
const KeyClusters = "clusters"

// loadProperties reads an MM2 connect-mirror-maker.properties file. Keys
// follow MM2's prefixes: "A." for cluster A, "A->B." for the flow from A to
// B, nothing for every cluster or flow.
func (l *loader) loadProperties(data []byte) *raw {
	p, err := (&properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}).LoadBytes(data)
	if err != nil {
		l.d.errorf(loc{}, "not a valid properties file: %v", err)
		return nil
	}
	lines := keyLines(string(data))
	at := func(k string) loc { return loc{key: k, line: lines[k]} }
	r := &raw{format: FormatProperties}

	list, ok := p.Get(KeyClusters)
	if !ok {
		for _, k := range p.Keys() {
			if suggest(k, []string{KeyClusters}) == KeyClusters {
				l.d.errorf(at(k), "unknown key%s", didYouMean(KeyClusters))
			}
		}
		l.d.errorf(loc{key: KeyClusters}, "required: the comma-separated cluster aliases")
		return nil
	}
	var aliases []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			aliases = append(aliases, a)
		}
	}
	// Longest alias first, so that "a.b" wins over "a" for "a.b.x".
	byLength := slices.Clone(aliases)
	slices.SortFunc(byLength, func(a, b string) int { return len(b) - len(a) })

	clusterKeys := map[string][]entry{}
	var globalClient, globalFlow []entry
	type flowKeys struct {
		src, dst string
		at       loc
		enabled  bool
		entries  []entry
	}
	var flows []*flowKeys
	flowFor := func(src, dst string, k string) *flowKeys {
		for _, f := range flows {
			if f.src == src && f.dst == dst {
				return f
			}
		}
		f := &flowKeys{src: src, dst: dst, at: at(k)}
		flows = append(flows, f)
		return f
	}
	for _, k := range p.Keys() {
		v := p.MustGet(k)
		if k == KeyClusters {
			continue
		}
		if src, rest, isFlow := strings.Cut(k, "->"); isFlow {
			dst, key, hasKey := cutAlias(rest, byLength)
			if !slices.Contains(aliases, src) || !hasKey {
				l.d.errorf(at(k), "the flow names cluster aliases that are not in clusters (%s)", strings.Join(aliases, ", "))
				continue
			}
			f := flowFor(src, dst, k)
			if key == "enabled" {
				if err := setBool(&f.enabled, v); err != nil {
					l.d.errorf(at(k), "%v", err)
				}
				f.at = at(k)
				continue
			}
			f.entries = append(f.entries, entry{key: key, value: v, at: at(k), layer: 2})
			continue
		}
		if alias, key, ok := cutAlias(k, byLength); ok {
			clusterKeys[alias] = append(clusterKeys[alias], entry{key: key, value: v, at: at(k), layer: 2})
			continue
		}
		e := entry{key: k, value: v, at: at(k), layer: 1}
		if isClientKey(k) {
			if role, _ := splitRole(k); role != "" {
				l.d.notef(e.at, "MM2 uses a top-level %s.* key nowhere; kmirror applies it to every cluster", role)
			}
			globalClient = append(globalClient, e)
		} else {
			globalFlow = append(globalFlow, e)
		}
	}

	for _, alias := range aliases {
		entries := append(slices.Clone(globalClient), clusterKeys[alias]...)
		rc := &rawCluster{alias: alias, at: at(KeyClusters)}
		rest := l.propertiesSecurity(alias, entries, rc)
		for _, e := range rest {
			if e.key == "bootstrap.servers" {
				continue
			}
			rc.config = append(rc.config, e)
		}
		for _, e := range latest(entries, l.d) {
			if e.key == "bootstrap.servers" {
				rc.bootstrap, rc.bootAt = e.value, e.at
			}
		}
		if rc.bootAt.key == "" {
			rc.bootAt = loc{key: alias + ".bootstrap.servers"}
		}
		r.clusters = append(r.clusters, rc)
	}
	for _, f := range flows {
		if !f.enabled {
			continue
		}
		r.flows = append(r.flows, &rawFlow{
			source: f.src, target: f.dst, srcAt: f.at, tgtAt: f.at, where: f.src + "->" + f.dst,
			connector: append(slices.Clone(globalFlow), f.entries...),
		})
	}
	if len(r.flows) == 0 {
		l.d.errorf(loc{}, "no flow is enabled: set A->B.enabled = true for each flow (clusters: %s)", strings.Join(aliases, ", "))
	}
	return r
}

// cutAlias splits "alias.key" for one of the aliases.
func cutAlias(k string, aliases []string) (alias, key string, ok bool) {
	for _, a := range aliases {
		if rest, found := strings.CutPrefix(k, a+"."); found && rest != "" {
			return a, rest, true
		}
	}
	return "", "", false
}

// isClientKey reports whether a top-level key configures clients (and so
// every cluster) rather than flows.
func isClientKey(k string) bool {
	if role, _ := splitRole(k); role != "" {
		return true
	}
	if _, ok := clientKey("", k); ok {
		return true
	}
	return k == "bootstrap.servers" || contains(securityKeys, k) || contains(securityNoEffectKeys, k) || contains(noEffectClientKeys, k)
}

// keyLines finds the line each key is first written on.
func keyLines(text string) map[string]int {
	lines := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimLeft(line, " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		end := strings.IndexAny(line, "=: \t")
		if end < 0 {
			end = len(line)
		}
		key := line[:end]
		if _, seen := lines[key]; !seen {
			lines[key] = i + 1
		}
	}
	return lines
}

// propertiesSecurity resolves a cluster's security.protocol, ssl.* and
// sasl.* keys into TLS and SASL settings, and returns the other entries.
func (l *loader) propertiesSecurity(alias string, entries []entry, rc *rawCluster) []entry {
	sec := map[string]entry{}
	var rest []entry
	for _, e := range latest(entries, &diags{}) {
		if contains(securityKeys, e.key) {
			sec[e.key] = e
		} else {
			rest = append(rest, e)
		}
	}
	get := func(k string) (string, loc, bool) {
		e, ok := sec[k]
		if !ok {
			return "", loc{key: alias + "." + k}, false
		}
		return e.value, e.at, true
	}
	secret := func(k string) Secret { v, _, _ := get(k); return NewSecret(v) }

	protocol, pat, _ := get("security.protocol")
	protocol = strings.ToUpper(strings.TrimSpace(protocol))
	useTLS, useSASL := false, false
	switch protocol {
	case "", "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		l.d.errorf(pat, "%q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", protocol)
		return rest
	}
	if !useTLS {
		for k, e := range sec {
			if strings.HasPrefix(k, "ssl.") {
				l.d.warnf(e.at, "ignored: security.protocol is %s, so TLS is off", strings.ToLower(orDefault(protocol, "PLAINTEXT")))
			}
		}
	}
	if !useSASL {
		for k, e := range sec {
			if strings.HasPrefix(k, "sasl.") {
				l.d.warnf(e.at, "ignored: security.protocol is %s, so SASL is off", strings.ToLower(orDefault(protocol, "PLAINTEXT")))
			}
		}
	}
	if useTLS {
		rc.tls = l.propertiesTLS(get, secret)
	}
	if useSASL {
		rc.sasl = l.propertiesSASL(sec, get)
	}
	return rest
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (l *loader) propertiesTLS(get func(string) (string, loc, bool), secret func(string) Secret) *TLS {
	var cas []*x509.Certificate
	var from []string
	if path, at, ok := get("ssl.truststore.location"); ok {
		if data, ok := l.file(path, at); ok {
			typ, _, _ := get("ssl.truststore.type")
			certs, err := trustStore(data, typ, secret("ssl.truststore.password"))
			if err != nil {
				l.d.errorf(at, "%s: %v", path, err)
			} else {
				cas, from = append(cas, certs...), append(from, "trust store "+path)
			}
		}
	}
	if pemCerts, at, ok := get("ssl.truststore.certificates"); ok {
		certs, err := parseCertificates([]byte(pemCerts))
		if err != nil {
			l.d.errorf(at, "%v", err)
		} else {
			cas, from = append(cas, certs...), append(from, "inline PEM")
		}
	}
	t := newTLS(cas, from)
	if path, at, ok := get("ssl.keystore.location"); ok {
		if data, ok := l.file(path, at); ok {
			typ, _, _ := get("ssl.keystore.type")
			c, err := keyStore(data, typ, secret("ssl.keystore.password"), secret("ssl.key.password"))
			if err != nil {
				l.d.errorf(at, "%s: %v", path, err)
			} else {
				t.Certificate, t.CertificateFrom = c, "key store "+path
			}
		}
	} else if chain, at, ok := get("ssl.keystore.certificate.chain"); ok {
		key, _, hasKey := get("ssl.keystore.key")
		if !hasKey {
			l.d.errorf(at, "needs ssl.keystore.key")
		} else if c, err := keyPair([]byte(chain), []byte(key)); err != nil {
			l.d.errorf(at, "%v", err)
		} else {
			t.Certificate, t.CertificateFrom = c, "inline PEM"
		}
	}
	if v, _, ok := get("ssl.endpoint.identification.algorithm"); ok {
		t.SkipHostnameVerification = strings.TrimSpace(v) == ""
	}
	return t
}

func (l *loader) propertiesSASL(sec map[string]entry, get func(string) (string, loc, bool)) *SASL {
	mech, mat, ok := get("sasl.mechanism")
	mech = strings.ToUpper(strings.TrimSpace(mech))
	if !ok {
		l.d.errorf(mat, "required with SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER; Java's default GSSAPI is not supported)")
		return nil
	}
	module := scramLoginModule
	switch mech {
	case MechanismPlain:
		module = plainLoginModule
	case MechanismOAuthBearer:
		module = oauthLoginModule
	case MechanismSCRAMSHA256, MechanismSCRAMSHA512:
	default:
		l.d.errorf(mat, "%q is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)", mech)
		return nil
	}
	if mech != MechanismOAuthBearer {
		for _, k := range slices.Sorted(maps.Keys(sec)) {
			if isOAuthKey(k) {
				l.d.warnf(sec[k].at, "ignored: sasl.mechanism is %s, not OAUTHBEARER", mech)
			}
		}
	}
	text, jat, ok := get("sasl.jaas.config")
	if !ok {
		if mech == MechanismOAuthBearer {
			l.d.errorf(jat, "required with SASL: %s required clientId=\"…\" clientSecret=\"…\";", module)
		} else {
			l.d.errorf(jat, "required with SASL: %s required username=\"…\" password=\"…\";", module)
		}
		return nil
	}
	j, err := parseJAAS(text)
	if err != nil {
		l.d.errorf(jat, "not a valid JAAS configuration: %v", err)
		return nil
	}
	if j.module != module {
		l.d.errorf(jat, "sasl.mechanism %s needs the login module %s, not %s", mech, module, j.module)
		return nil
	}
	if mech == MechanismOAuthBearer {
		return l.propertiesOAuth(sec, get, j, jat)
	}
	user, pw := j.options["username"], j.options["password"]
	if user == "" || pw == "" {
		l.d.errorf(jat, "needs username and password options")
		return nil
	}
	return &SASL{Mechanism: mech, Username: user, Password: NewSecret(pw)}
}
