package mirror

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/testbed"
)

func secured(t *testing.T) (*testbed.Cluster, *kadm.Client) {
	c := testbed.NewCluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "admin-pw"), kfake.EnableACLs())
	return c, kadm.NewClient(c.Client(t, kgo.SASL(plain.Auth{User: "admin", Pass: "admin-pw"}.AsMechanism())))
}

// Topic configs and literal topic ACLs follow the source, as MM2 syncs
// them: configs set on the source are set on the target (less
// config.properties.exclude); ALLOW WRITE is not copied; ALLOW ALL becomes
// ALLOW READ.
func TestConfigAndACLSync(t *testing.T) {
	src, srcAdm := secured(t)
	tgt, tgtAdm := secured(t)
	ctx := t.Context()
	if _, err := srcAdm.CreateTopic(ctx, 1, -1, map[string]*string{"retention.ms": kadm.StringPtr("1000000"), "min.insync.replicas": kadm.StringPtr("1")}, "app-a"); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Topics("app-a").ResourcePatternType(kadm.ACLPatternLiteral).Allow("User:alice").Operations(kadm.OpRead),
		kadm.NewACLs().Topics("app-a").ResourcePatternType(kadm.ACLPatternLiteral).Allow("User:bob").Operations(kadm.OpWrite),
		kadm.NewACLs().Topics("app-a").ResourcePatternType(kadm.ACLPatternLiteral).Allow("User:carol").Operations(kadm.OpAll),
		kadm.NewACLs().Topics("app").ResourcePatternType(kadm.ACLPatternPrefixed).Allow("User:dave").Operations(kadm.OpRead),
	} {
		if _, err := srcAdm.CreateACLs(ctx, b.AllowHosts()); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testbed.Config(t, src, tgt, identity+`        sync.topic.configs.interval.seconds: 1
        sync.topic.acls.interval.seconds: 1
`)
	for _, c := range cfg.Clusters {
		c.SASL = &config.SASL{Mechanism: config.MechanismPlain, Username: "admin", Password: config.NewSecret("admin-pw")}
	}
	r := start(t, cfg)

	targetConfig := func(key string) string {
		rcs, err := tgtAdm.DescribeTopicConfigs(ctx, "app-a")
		if err != nil || len(rcs) == 0 {
			return ""
		}
		for _, c := range rcs[0].Configs {
			if c.Key == key && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				return deref(c.Value)
			}
		}
		return ""
	}
	testbed.WaitFor(t, 15*time.Second, "retention.ms copied at creation", func() bool { return targetConfig("retention.ms") == "1000000" })
	if v := targetConfig("min.insync.replicas"); v != "" {
		t.Errorf("min.insync.replicas (excluded) reached the target: %q", v)
	}
	if _, err := srcAdm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("2000000")}}, "app-a"); err != nil {
		t.Fatal(err)
	}
	testbed.WaitFor(t, 15*time.Second, "retention.ms change synced", func() bool { return targetConfig("retention.ms") == "2000000" })

	var got []string
	testbed.WaitFor(t, 15*time.Second, "ACLs synced", func() bool {
		res, err := tgtAdm.DescribeACLs(ctx, kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Allow().Deny().Operations(kadm.OpAny).AllowHosts().DenyHosts())
		got = got[:0]
		if err != nil {
			return false
		}
		for _, r := range res {
			for _, d := range r.Described {
				got = append(got, fmt.Sprintf("%s %s %s %s %s", d.Principal, d.Permission, d.Operation, d.Name, d.Pattern))
			}
		}
		slices.Sort(got)
		return len(got) >= 2
	})
	want := []string{"User:alice ALLOW READ app-a LITERAL", "User:carol ALLOW READ app-a LITERAL"}
	if !slices.Equal(got, want) {
		t.Errorf("target ACLs %q, want %q", got, want)
	}
	r.stop(t)
}
