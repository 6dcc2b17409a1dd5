package config

import (
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kmirror/kmirror/internal/policy"
)

// entry is one key = value as a loader read it.
type entry struct {
	key, value string
	at         loc
	// layer orders precedence: a higher layer overrides a lower one. Within
	// one layer, entries of different groups (e.g. the source and the
	// checkpoint connector of a Strimzi mirror) must agree.
	layer int
	group string
}

// rawCluster is a cluster as a loader read it, with TLS and SASL resolved.
type rawCluster struct {
	alias     string
	at        loc
	bootstrap string
	bootAt    loc
	tls       *TLS
	sasl      *SASL
	config    []entry
	// yaml says security keys come from tls/authentication, not config.
	yaml bool
}

// rawFlow is a flow as a loader read it.
type rawFlow struct {
	source, target string
	srcAt, tgtAt   loc
	where          string
	connector      []entry
}

// raw is what every loader produces and build turns into a Config.
type raw struct {
	format          Format
	version         string
	replicas        int
	name, namespace string
	document        []byte
	clusters        []*rawCluster
	flows           []*rawFlow
	// target is the alias the format names as the one target
	// (connectCluster, spec.target), or "" when it names none.
	target   string
	targetAt loc
}

var aliasPattern = regexp.MustCompile(`^[a-zA-Z0-9._\-]{1,100}$`)

// clusterClients are the client settings a cluster's config gives.
type clusterClients struct {
	producer Producer
	consumer Consumer
	acksAt   loc
	explicit bool
	// exactlyOnce is the cluster's exactly.once.source.support, for the
	// flows into it.
	exactlyOnce exactlyOnceSource
}

// exactlyOnceSource is an exactly.once.source.support setting: whether it
// is enabled, and where it was said.
type exactlyOnceSource struct {
	enabled bool
	at      loc
}

// parse takes the value of entry e, noting what kmirror makes of it.
func (x *exactlyOnceSource) parse(e entry, d *diags) {
	v := strings.TrimSpace(e.value)
	switch v {
	case "enabled", "disabled":
	case "preparing":
		d.notef(e.at, "preparing is a step of a Connect cluster's rolling upgrade; kmirror runs such flows without exactly-once, as disabled")
	default:
		d.errorf(e.at, "%q is not one of enabled, preparing, disabled", e.value)
		return
	}
	*x = exactlyOnceSource{enabled: v == "enabled", at: e.at}
}

func build(r *raw, d *diags) *Config {
	cfg := &Config{Format: r.format, Version: r.version, Replicas: r.replicas, Name: r.name, Namespace: r.namespace, Document: r.document}
	clients := map[string]*clusterClients{}
	for _, rc := range r.clusters {
		if !aliasPattern.MatchString(rc.alias) {
			d.errorf(rc.at, "%q is not a valid cluster alias (letters, digits, '.', '_', '-'; at most 100)", rc.alias)
			continue
		}
		if cfg.Cluster(rc.alias) != nil {
			d.errorf(rc.at, "cluster alias %q is defined twice", rc.alias)
			continue
		}
		c := &Cluster{Alias: rc.alias, TLS: rc.tls, SASL: rc.sasl, ClientID: "kmirror"}
		c.Bootstrap = parseBootstrap(rc.bootstrap, rc.bootAt, d)
		cc := &clusterClients{producer: defaultProducer(), consumer: defaultConsumer()}
		applyClientEntries(rc, c, cc, d)
		cfg.Clusters = append(cfg.Clusters, c)
		clients[rc.alias] = cc
	}
	if len(r.clusters) == 0 {
		d.errorf(loc{}, "no clusters are defined")
	}
	if len(r.flows) == 0 {
		d.errorf(loc{}, "no flows (mirrors) are defined")
	}
	if r.target != "" && cfg.Cluster(r.target) == nil && clients[r.target] == nil {
		d.errorf(r.targetAt, "%q is not a cluster alias%s", r.target, known(cfg))
	}
	seen := map[string]bool{}
	at := map[*Flow]loc{}
	for _, rf := range r.flows {
		f := buildFlow(rf, cfg, clients, d)
		if f == nil {
			continue
		}
		if seen[f.Name()] {
			d.errorf(rf.srcAt, "flow %s is defined twice", f.Name())
			continue
		}
		seen[f.Name()] = true
		cfg.Flows = append(cfg.Flows, f)
		at[f] = rf.tgtAt
	}
	// One target per configuration, and the way back from it.
	target := r.target
	if target == "" {
		target = mainTarget(cfg.Flows)
	}
	cfg.Target = target
	targets := map[string]bool{}
	for _, f := range cfg.Flows {
		switch {
		case !outside(cfg.Flows, f, target):
		case r.target != "":
			d.errorf(at[f], "%q is not the target cluster %q: kmirror mirrors into one target cluster per configuration, and back from it (%s->%s next to %s->%s)",
				f.Target, r.target, r.target, f.Target, f.Target, r.target)
		default:
			targets[f.Target] = true
		}
	}
	if len(targets) > 0 {
		targets[target] = true
		names := make([]string, 0, len(targets))
		for t := range targets {
			names = append(names, t)
		}
		slices.Sort(names)
		d.errorf(loc{}, "the flows have %d target clusters (%s): kmirror mirrors into one target cluster per configuration, and back from it; use one configuration per target", len(names), strings.Join(names, ", "))
	}
	for _, f := range cfg.Flows {
		for _, err := range cfg.validatePair(f) {
			d.errorf(at[f], "%v", err)
		}
	}
	return cfg
}

func known(cfg *Config) string {
	if len(cfg.Clusters) == 0 {
		return ""
	}
	names := make([]string, len(cfg.Clusters))
	for i, c := range cfg.Clusters {
		names[i] = c.Alias
	}
	return " (clusters: " + strings.Join(names, ", ") + ")"
}

func parseBootstrap(v string, at loc, d *diags) []string {
	var out []string
	for _, hp := range strings.Split(v, ",") {
		hp = strings.TrimSpace(hp)
		if hp == "" {
			continue
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" {
			d.errorf(at, "%q is not host:port", hp)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			d.errorf(at, "%q has an invalid port", hp)
			continue
		}
		out = append(out, hp)
	}
	if len(out) == 0 && !d.failedAt(at) {
		d.errorf(at, "no bootstrap servers given")
	}
	return out
}

func (d *diags) failedAt(at loc) bool {
	for _, x := range d.list {
		if x.Level == LevelError && x.Key == at.key && x.Line == at.line {
			return true
		}
	}
	return false
}

func defaultSettings() Settings {
	var s Settings
	for _, k := range ConnectorKeys {
		if k.apply != nil {
			if err := k.apply(&s, k.Default); err != nil {
				panic("default of " + k.Name + ": " + err.Error())
			}
		}
	}
	return s
}

func defaultProducer() Producer {
	p := Producer{Idempotent: true}
	applyDefaults(RoleProducer, &clientConfig{producer: &p, cluster: &Cluster{}, consumer: &Consumer{}})
	return p
}

func defaultConsumer() Consumer {
	c := Consumer{}
	applyDefaults(RoleConsumer, &clientConfig{consumer: &c, cluster: &Cluster{}, producer: &Producer{}})
	return c
}

func applyDefaults(role string, cc *clientConfig) {
	for _, k := range ClientKeys {
		if k.Role == role {
			if err := k.apply(cc, k.Default); err != nil {
				panic("default of " + k.Full() + ": " + err.Error())
			}
		}
	}
}

// allKnownKeys lists every key name a config may hold, for suggestions.
func allKnownKeys() []string {
	var ks []string
	for _, k := range ConnectorKeys {
		ks = append(ks, k.Name)
	}
	for _, k := range ClientKeys {
		ks = append(ks, k.Full())
	}
	for _, k := range append(append(slices.Clone(connectOnlyKeys), securityKeys...), securityNoEffectKeys...) {
		if !strings.HasSuffix(k, ".") {
			ks = append(ks, k)
		}
	}
	for _, k := range noEffectClientKeys {
		ks = append(ks, RoleProducer+"."+k, RoleConsumer+"."+k)
	}
	return ks
}

func splitRole(key string) (role, name string) {
	for _, r := range []string{RoleProducer, RoleConsumer, RoleAdmin} {
		if rest, ok := strings.CutPrefix(key, r+"."); ok {
			return r, rest
		}
	}
	return "", key
}

// applyClientEntries applies a cluster's config keys, once per cluster.
func applyClientEntries(rc *rawCluster, c *Cluster, cc *clusterClients, d *diags) {
	conf := &clientConfig{cluster: c, producer: &cc.producer, consumer: &cc.consumer}
	for _, e := range latest(rc.config, d) {
		role, name := splitRole(e.key)
		switch {
		case role == RoleProducer || role == RoleConsumer:
			k, ok := clientKey(role, name)
			if !ok {
				k, ok = clientKey("", name)
			}
			switch {
			case ok:
				if err := k.apply(conf, e.value); err != nil {
					d.errorf(e.at, "%v", err)
				}
				if role == RoleProducer && name == "acks" {
					cc.acksAt = e.at
				}
				noteProducer(role+"."+name, conf.producer, e.at, d)
			case contains(noEffectClientKeys, name):
				d.notef(e.at, "accepted; has no effect on kmirror's %s", role)
			default:
				d.warnf(e.at, "unknown key, ignored%s", didYouMean(suggest(e.key, allKnownKeys())))
			}
		case role == RoleAdmin:
			if _, ok := clientKey("", name); ok || contains(noEffectClientKeys, name) {
				d.notef(e.at, "accepted; kmirror's admin requests use the cluster's client settings")
			} else {
				d.warnf(e.at, "unknown key, ignored%s", didYouMean(suggest(e.key, allKnownKeys())))
			}
		case contains(securityKeys, e.key):
			if !rc.yaml {
				continue // the properties loader resolved it
			}
			if e.key == "ssl.endpoint.identification.algorithm" {
				if c.TLS != nil {
					c.TLS.SkipHostnameVerification = strings.TrimSpace(e.value) == ""
				}
				continue
			}
			d.warnf(e.at, "ignored: set TLS and SASL with the cluster's tls and authentication fields")
		case contains(securityNoEffectKeys, e.key):
			d.notef(e.at, "accepted; Go's TLS stack negotiates protocols and cipher suites itself")
		default:
			if k, ok := clientKey("", e.key); ok {
				if err := k.apply(conf, e.value); err != nil {
					d.errorf(e.at, "%v", err)
				}
				continue
			}
			if _, ok := clientKey(RoleProducer, e.key); ok {
				d.warnf(e.at, "has no effect without a client prefix; did you mean producer.%s?", e.key)
				continue
			}
			if _, ok := clientKey(RoleConsumer, e.key); ok {
				d.warnf(e.at, "has no effect without a client prefix; did you mean consumer.%s?", e.key)
				continue
			}
			switch {
			case contains(noEffectClientKeys, e.key):
				d.notef(e.at, "accepted; has no effect on kmirror's clients")
			case e.key == keyConnectOffsetsTopic || e.key == keyConnectGroup:
				if e.key == keyConnectOffsetsTopic {
					c.ConnectOffsetsTopic = strings.TrimSpace(e.value)
				} else {
					c.ConnectGroup = strings.TrimSpace(e.value)
				}
				d.notef(e.at, "a Kafka Connect key; kmirror has no Connect worker and reads it only to take over from the MirrorMaker 2 that ran there")
			case e.key == keyConnectOffsetsReplication:
				if err := setReplicationFactor(&c.ConnectOffsetsReplication, e.value); err != nil {
					d.errorf(e.at, "%v", err)
					continue
				}
				d.notef(e.at, "a Kafka Connect key; kmirror has no Connect worker and reads it only to create MirrorMaker 2's offsets topic in 'kmirror migrate hand-back'")
			case e.key == KeyExactlyOnceSource:
				cc.exactlyOnce.parse(e, d)
			case isConnectOnly(e.key):
				d.notef(e.at, "a Kafka Connect key; kmirror has no Connect worker and ignores it")
			default:
				if _, ok := connectorKey(e.key); ok {
					d.warnf(e.at, "an MM2 connector key has no effect in a cluster's config; set it on the flow")
					continue
				}
				d.warnf(e.at, "unknown key, ignored%s", didYouMean(suggest(e.key, allKnownKeys())))
			}
		}
	}
	cc.explicit = conf.explicitIdempotence
}

// latest orders entries by layer and keeps the one that wins for each key,
// reporting entries of one layer that disagree.
func latest(entries []entry, d *diags) []entry {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b entry) int { return a.layer - b.layer })
	var out []entry
	idx := map[string]int{}
	for _, e := range sorted {
		i, ok := idx[e.key]
		if !ok {
			idx[e.key] = len(out)
			out = append(out, e)
			continue
		}
		prev := out[i]
		if prev.layer == e.layer && prev.group != e.group && prev.value != e.value {
			d.errorf(e.at, "%q disagrees with %q at %s; a flow has one value for each key", e.value, prev.value, prev.at.key)
			continue
		}
		out[i] = e
	}
	return out
}

func buildFlow(rf *rawFlow, cfg *Config, clients map[string]*clusterClients, d *diags) *Flow {
	ok := true
	for _, side := range []struct {
		alias string
		at    loc
	}{{rf.source, rf.srcAt}, {rf.target, rf.tgtAt}} {
		if side.alias == "" {
			d.errorf(side.at, "missing cluster alias")
			ok = false
		} else if clients[side.alias] == nil {
			d.errorf(side.at, "%q is not a cluster alias%s", side.alias, known(cfg))
			ok = false
		}
	}
	if ok && rf.source == rf.target {
		d.errorf(rf.tgtAt, "a flow cannot mirror cluster %q into itself", rf.source)
		ok = false
	}
	f := &Flow{Source: rf.source, Target: rf.target, Where: rf.where, Settings: defaultSettings()}
	var overrides []entry
	var classAt, timingAt, supportAt loc
	var eos exactlyOnceSource
	if ok {
		eos = clients[rf.target].exactlyOnce
	}
	for _, e := range latest(rf.connector, d) {
		key := e.key
		if cur, dep := deprecatedKeys[key]; dep {
			d.warnf(e.at, "deprecated; use %s", cur)
			key = cur
		}
		if k, known := connectorKey(key); known {
			if !k.Effective() {
				d.notef(e.at, "accepted; no effect in kmirror: %s", k.Why)
				continue
			}
			if err := k.apply(&f.Settings, e.value); err != nil {
				d.errorf(e.at, "%v", err)
			}
			if key == KeyReplicationPolicyClass || key == KeyReplicationPolicySeparator {
				classAt = e.at
			}
			if key == KeyOffsetSyncsLocation {
				f.OffsetSyncsLocationSet = true
			}
			if key == KeySessionTimeout || key == KeyHeartbeatInterval {
				timingAt = e.at
			}
			if key == KeyExactlyOnce {
				supportAt = e.at
			}
			continue
		}
		if role, _ := splitRole(key); role != "" {
			overrides = append(overrides, e)
			continue
		}
		switch {
		case key == KeyExactlyOnceSource:
			eos.parse(e, d)
		case isConnectOnly(key):
			d.notef(e.at, "a Kafka Connect key; kmirror has no Connect worker and ignores it")
		case contains(securityKeys, key) || contains(securityNoEffectKeys, key):
			d.warnf(e.at, "ignored: TLS and SASL are set on the cluster, not the flow")
		default:
			names := make([]string, 0, len(ConnectorKeys))
			for _, k := range ConnectorKeys {
				names = append(names, k.Name)
			}
			d.warnf(e.at, "unknown key, ignored%s", didYouMean(suggest(key, append(names, connectOnlyKeys...))))
		}
	}
	rep, err := policy.NewReplication(f.Replication.Class, f.Replication.Separator, f.internalSeparator)
	if err != nil {
		d.errorf(classAt, "%v", err)
	}
	f.Replication = rep
	if f.HeartbeatInterval >= f.SessionTimeout {
		d.errorf(timingAt, "%s (%d) must be below %s (%d)", KeyHeartbeatInterval, f.HeartbeatInterval.Milliseconds(), KeySessionTimeout, f.SessionTimeout.Milliseconds())
	}
	warnEmptyMatch(rf, f, d)
	f.ExactlyOnce = eos.enabled
	if f.exactlyOnceSupport == "required" && !eos.enabled {
		// MM2 refuses to start a connector that requires what the worker
		// does not offer; so does kmirror.
		d.errorf(supportAt, "required, but the target cluster's config does not say %s: enabled", KeyExactlyOnceSource)
	}
	if f.ExactlyOnce && f.OffsetSyncsLocation == "source" {
		d.errorf(eos.at, "exactly-once mode commits the offset syncs in the target's transactions: %s must be target", KeyOffsetSyncsLocation)
	}
	if !ok {
		return nil
	}
	f.Producer, f.Consumer = clients[rf.target].producer, clients[rf.source].consumer
	acksAt, explicit := clients[rf.target].acksAt, clients[rf.target].explicit
	if len(overrides) > 0 {
		conf := &clientConfig{cluster: &Cluster{}, producer: &f.Producer, consumer: &f.Consumer, explicitIdempotence: explicit}
		applyFlowOverrides(overrides, conf, &acksAt, d)
		explicit = conf.explicitIdempotence
	}
	finishProducer(&f.Producer, acksAt, explicit, d)
	if f.ExactlyOnce {
		// Aborted source records are not copied, and the source's
		// transaction markers become gaps the offset map translates over.
		f.Consumer.ReadCommitted = true
	}
	return f
}

func applyFlowOverrides(entries []entry, conf *clientConfig, acksAt *loc, d *diags) {
	for _, e := range entries {
		role, name := splitRole(e.key)
		k, ok := clientKey(role, name)
		if !ok {
			if contains(noEffectClientKeys, name) || role == RoleAdmin {
				d.notef(e.at, "accepted; has no effect on kmirror's %s", role)
			} else {
				d.warnf(e.at, "unknown key, ignored%s", didYouMean(suggest(e.key, allKnownKeys())))
			}
			continue
		}
		if err := k.apply(conf, e.value); err != nil {
			d.errorf(e.at, "%v", err)
		}
		if e.key == "producer.acks" {
			*acksAt = e.at
		}
		noteProducer(e.key, conf.producer, e.at, d)
	}
}

// noteProducer says what of a producer key kmirror's copy does not
// apply: it does not wait out a producer.linger.ms (each fetch is handed
// to the producer whole, and a linger would only hold its last batch
// back), writes idempotently, and retries outside exactly-once mode until
// delivery.timeout.ms or until stopped.
func noteProducer(key string, p *Producer, at loc, d *diags) {
	switch {
	case key == RoleProducer+".linger.ms" && p.Linger > 0:
		d.notef(at, "ignored: kmirror sends each fetch at once, without waiting %s for more records; a fetch is already a batch", p.Linger)
	case key == RoleProducer+".retries" && p.Retries != math.MaxInt32:
		d.notef(at, "applies in exactly-once mode only: otherwise kmirror retries until delivery.timeout.ms, when set, or until stopped")
	case key == RoleProducer+".enable.idempotence" && !p.Idempotent:
		d.warnf(at, "ignored: kmirror writes its copies idempotently, as a retry would otherwise duplicate records")
	}
}

// finishProducer reconciles producer settings that depend on each other.
func finishProducer(p *Producer, acksAt loc, explicitIdempotence bool, d *diags) {
	if p.Acks != "all" {
		if explicitIdempotence && p.Idempotent {
			d.errorf(acksAt, "acks=%s cannot be combined with enable.idempotence=true, which needs acks=all", p.Acks)
			return
		}
		d.warnf(acksAt, "ignored: kmirror writes its copies with acks=all, idempotently, as a leader change on the target would otherwise lose or duplicate records")
		p.Acks = "all"
	}
	p.Idempotent = true
	if p.BatchSize < defaultBatchSize {
		p.BatchSize = defaultBatchSize
	}
	if p.MaxRequestSize < p.BatchSize {
		p.MaxRequestSize = p.BatchSize
	}
}

const defaultBatchSize = 1000012

// probeNames are tried against look-around patterns, which can easily
// match nothing: the article's ^(?!.*(heartbeats|)).*$ excludes every name.
var probeNames = []string{"a", "app1", "app1-t1", "orders", "my-group", "x.y-z_1", "heartbeats"}

func warnEmptyMatch(rf *rawFlow, f *Flow, d *diags) {
	for _, p := range []struct {
		key string
		pat policy.Pattern
	}{{KeyTopics, f.Topics}, {KeyGroups, f.Groups}} {
		s := p.pat.String()
		if !strings.Contains(s, "(?!") && !strings.Contains(s, "(?<!") {
			continue
		}
		matched := false
		for _, n := range probeNames {
			if ok, _ := p.pat.Match(n); ok {
				matched = true
				break
			}
		}
		if !matched {
			at := loc{key: rf.where}
			for _, e := range rf.connector {
				if e.key == p.key {
					at = e.at
				}
			}
			d.warnf(at, "the look-around pattern %q matches none of %s; an empty alternative such as (heartbeats|) makes a negative look-ahead exclude every name", s, strings.Join(probeNames, ", "))
		}
	}
}
