package devcluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func TestBrokersAndTopics(t *testing.T) {
	c, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Brokers: 3, ClusterID: "dev", Topics: []string{"orders:6", "audit"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := len(c.ListenAddrs()); n != 3 {
		t.Fatalf("%d brokers listening, want 3", n)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.Cluster != "dev" || len(md.Brokers) != 3 {
		t.Errorf("cluster %q with %d brokers", md.Cluster, len(md.Brokers))
	}
	if p := len(md.Topics["orders"].Partitions); p != 6 {
		t.Errorf("orders has %d partitions, want 6", p)
	}
	if _, ok := md.Topics["audit"]; !ok {
		t.Error("audit was not created")
	}
}

func TestACLsDenyUsersWithoutGrants(t *testing.T) {
	c, err := Start(Options{Listen: []string{"127.0.0.1:0"}, ACLs: true, Topics: []string{"orders:1"},
		Superusers: []string{"SCRAM-SHA-512:admin:admin-pw"}, Users: []string{"SCRAM-SHA-512:app:app-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.SASL(scram.Auth{User: "app", Pass: "app-pw"}.AsSha512Mechanism()), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without a Write grant: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{Listen: []string{"0.0.0.0:9092"}}, "not a wildcard"},
		{Options{Listen: []string{"nohost"}}, "is not host:port"},
		{Options{ACLs: true}, "--acls needs at least one --superuser"},
		{Options{Superusers: []string{"GSSAPI:a:b"}}, `mechanism "GSSAPI"`},
		{Options{Users: []string{"PLAIN:a"}}, "expected MECHANISM:user:password"},
		{Options{Topics: []string{"t:zero"}}, "partitions must be a positive integer"},
		{Options{Listen: []string{"127.0.0.1:0", "127.0.0.1:0"}, Brokers: 1}, "2 --listen addresses for 1 brokers"},
	} {
		if tt.o.Listen == nil {
			tt.o.Listen = []string{"127.0.0.1:0"}
		}
		c, err := Start(tt.o)
		if err == nil {
			c.Close()
			t.Errorf("%+v: started", tt.o)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.o, err, tt.want)
		}
	}
}
