package config

import (
	"errors"
	"fmt"
)

// Validate checks the invariants every loaded configuration holds: it has
// no side effects and reports every broken one. Load only returns
// configurations that validate; Validate lets code that builds or changes a
// Config (tests, reloads) check the same.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Flows) == 0 {
		errs = append(errs, errors.New("no flows"))
	}
	aliases := map[string]bool{}
	for _, cl := range c.Clusters {
		if !aliasPattern.MatchString(cl.Alias) {
			errs = append(errs, fmt.Errorf("cluster alias %q is not valid", cl.Alias))
		}
		if aliases[cl.Alias] {
			errs = append(errs, fmt.Errorf("cluster %q defined twice", cl.Alias))
		}
		aliases[cl.Alias] = true
		if len(cl.Bootstrap) == 0 {
			errs = append(errs, fmt.Errorf("cluster %q has no bootstrap servers", cl.Alias))
		}
		switch s := cl.SASL; {
		case s == nil:
		case s.Mechanism == MechanismOAuthBearer && s.OAuth == nil:
			errs = append(errs, fmt.Errorf("cluster %q: OAUTHBEARER needs its OAuth settings", cl.Alias))
		case s.Mechanism == MechanismOAuthBearer:
			if err := s.OAuth.validate(); err != nil {
				errs = append(errs, fmt.Errorf("cluster %q: %w", cl.Alias, err))
			}
		case s.Username == "" || s.Password.IsZero():
			errs = append(errs, fmt.Errorf("cluster %q: SASL needs a username and a password", cl.Alias))
		}
	}
	names := map[string]bool{}
	target := c.Target
	if target == "" {
		target = mainTarget(c.Flows)
	}
	for _, f := range c.Flows {
		if !aliases[f.Source] || !aliases[f.Target] {
			errs = append(errs, fmt.Errorf("flow %s names an unknown cluster", f.Name()))
		}
		if f.Source == f.Target {
			errs = append(errs, fmt.Errorf("flow %s mirrors a cluster into itself", f.Name()))
		}
		if names[f.Name()] {
			errs = append(errs, fmt.Errorf("flow %s defined twice", f.Name()))
		}
		names[f.Name()] = true
		if outside(c.Flows, f, target) {
			errs = append(errs, fmt.Errorf("flows into %s and %s: one target cluster per configuration, and the way back from it", target, f.Target))
		}
		errs = append(errs, c.validatePair(f)...)
		if f.TasksMax < 1 {
			errs = append(errs, fmt.Errorf("flow %s: tasks.max must be at least 1", f.Name()))
		}
		if f.Replication.Separator == "" || f.Replication.Class == "" {
			errs = append(errs, fmt.Errorf("flow %s: no replication policy", f.Name()))
		}
		if f.OffsetSyncsLocation != "source" && f.OffsetSyncsLocation != "target" {
			errs = append(errs, fmt.Errorf("flow %s: offset-syncs location %q", f.Name(), f.OffsetSyncsLocation))
		}
		if f.Producer.Acks != "all" && f.Producer.Idempotent {
			errs = append(errs, fmt.Errorf("flow %s: idempotent writes need acks=all", f.Name()))
		}
		if f.HeartbeatInterval >= f.SessionTimeout {
			errs = append(errs, fmt.Errorf("flow %s: %s (%v) must be below %s (%v)", f.Name(), KeyHeartbeatInterval, f.HeartbeatInterval, KeySessionTimeout, f.SessionTimeout))
		}
		if f.Producer.MaxRequestSize < f.Producer.BatchSize {
			errs = append(errs, fmt.Errorf("flow %s: max.request.size below the batch size", f.Name()))
		}
	}
	return errors.Join(errs...)
}

// validatePair checks a flow copied both ways with identity names against
// its pair (reported once, by the flow whose source sorts first).
func (c *Config) validatePair(f *Flow) []error {
	g := c.Pair(f)
	if g == nil || f.Source > f.Target {
		return nil
	}
	var errs []error
	if f.Replication.Identity() != g.Replication.Identity() {
		errs = append(errs, fmt.Errorf("flows %s and %s: one uses the identity replication policy, the other not: "+
			"the copies would come back under other names; use the same policy both ways", f.Name(), g.Name()))
	}
	if at, topic := f.OffsetSyncs(); func() bool { gat, gtopic := g.OffsetSyncs(); return at == gat && topic == gtopic }() {
		errs = append(errs, fmt.Errorf("flows %s and %s keep their offset syncs in the same topic %s on %s: set %s to target on both",
			f.Name(), g.Name(), topic, at, KeyOffsetSyncsLocation))
	}
	if c.SameNamePair(f) == nil {
		return errs
	}
	if (!f.ExactlyOnce || !g.ExactlyOnce) && (!f.ProvenanceHeader || !g.ProvenanceHeader) {
		errs = append(errs, fmt.Errorf("flows %s and %s copy the same topic names both ways: both need %s: enabled "+
			"(kmirror tells its copies from the records written on each cluster by its offset maps, which only transactions keep exact across a crash), "+
			"or %s: true (a header on every copy)",
			f.Name(), g.Name(), KeyExactlyOnceSource, KeyProvenanceHeader))
	}
	return errs
}
