package devcluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// With SASL on, ApiVersions advertises SaslHandshake from v0, as a real
// broker does and librdkafka requires (see handshake.go), at every
// ApiVersions version, however the request and response are split; the
// rest of the answer is kfake's own.
func TestHandshakeAdvertisedFromV0(t *testing.T) {
	plain, err := Start(Options{Listen: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	sasl, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Superusers: []string{"PLAIN:admin:pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sasl.Close()
	for v := int16(0); v <= 5; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			want := apiVersions(t, plain.ListenAddrs()[0], v, false)
			got := apiVersions(t, sasl.ListenAddrs()[0], v, true)
			if got.ErrorCode != 0 {
				t.Fatalf("error code %d", got.ErrorCode)
			}
			if len(got.ApiKeys) != len(want.ApiKeys) {
				t.Fatalf("%d keys, kfake has %d", len(got.ApiKeys), len(want.ApiKeys))
			}
			for i, k := range got.ApiKeys {
				w := want.ApiKeys[i]
				if k.ApiKey == int16(kmsg.SASLHandshake) {
					if k.MinVersion != 0 || k.MaxVersion != w.MaxVersion {
						t.Errorf("SaslHandshake %d..%d, want 0..%d", k.MinVersion, k.MaxVersion, w.MaxVersion)
					}
					continue
				}
				if k.ApiKey != w.ApiKey || k.MinVersion != w.MinVersion || k.MaxVersion != w.MaxVersion {
					t.Errorf("key %d: %+v, kfake says %+v", k.ApiKey, k, w)
				}
			}
		})
	}
	// A version kfake does not serve is answered as kfake answers it.
	if got := apiVersions(t, sasl.ListenAddrs()[0], 99, false); got.ErrorCode != kerr.UnsupportedVersion.Code || len(got.ApiKeys) != 1 {
		t.Errorf("v99: error %d with %d keys, want UNSUPPORTED_VERSION with ApiVersions' range", got.ErrorCode, len(got.ApiKeys))
	}
}

// apiVersions sends addr an ApiVersions request at version v, a byte a
// write when split, and returns the answer.
func apiVersions(t *testing.T, addr string, v int16, split bool) *kmsg.ApiVersionsResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = v
	req.ClientSoftwareName, req.ClientSoftwareVersion = "kmirror-test", "1"
	frame := (&kmsg.RequestFormatter{}).AppendRequest(nil, req, 7)
	if split {
		for i := range frame {
			if _, err := conn.Write(frame[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
	} else if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	size := make([]byte, 4)
	if _, err := io.ReadFull(conn, size); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size))
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != 7 {
		t.Fatalf("correlation ID %d, want 7", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = v
	if v > 5 {
		resp.Version = 0
	}
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatalf("decode v%d response: %v", resp.Version, err)
	}
	return resp
}

// A response written in pieces is rewritten once whole; one that answers
// no ApiVersions request passes as it is.
func TestHandshakeConnJoinsSplitResponses(t *testing.T) {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	for _, k := range []int16{int16(kmsg.Metadata), int16(kmsg.SASLHandshake)} {
		key := kmsg.NewApiVersionsResponseApiKey()
		key.ApiKey, key.MinVersion, key.MaxVersion = k, 1, 1
		resp.ApiKeys = append(resp.ApiKeys, key)
	}
	frame := func(corr int32) []byte {
		b := resp.AppendTo(binary.BigEndian.AppendUint32(make([]byte, 4), uint32(corr)))
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		return b
	}
	server, client := net.Pipe()
	defer client.Close()
	hc := &handshakeConn{Conn: server, apiVersions: map[int32]int16{5: 3}}
	go func() {
		defer hc.Close()
		for _, f := range [][]byte{frame(5), frame(6)} {
			for _, piece := range [][]byte{f[:3], f[3:10], f[10:]} {
				if _, err := hc.Write(piece); err != nil {
					return
				}
			}
		}
	}()
	if err := client.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		corr int32
		min  int16
	}{{5, 0}, {6, 1}} {
		size := make([]byte, 4)
		if _, err := io.ReadFull(client, size); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint32(size))
		if _, err := io.ReadFull(client, body); err != nil {
			t.Fatal(err)
		}
		got := kmsg.NewPtrApiVersionsResponse()
		got.Version = 3
		if err := got.ReadFrom(body[4:]); err != nil {
			t.Fatal(err)
		}
		if corr := int32(binary.BigEndian.Uint32(body)); corr != want.corr {
			t.Fatalf("correlation ID %d, want %d", corr, want.corr)
		}
		if m := got.ApiKeys[0].MinVersion; m != 1 {
			t.Errorf("corr %d: Metadata from v%d, want v1", want.corr, m)
		}
		if m := got.ApiKeys[1].MinVersion; m != want.min {
			t.Errorf("corr %d: SaslHandshake from v%d, want v%d", want.corr, m, want.min)
		}
	}
}
