package preflight

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The ACL evaluation used where the broker does not report authorized
// operations (topics that do not exist yet on a real broker).
func TestAllowed(t *testing.T) {
	acl := func(principal string, typ kmsg.ACLResourceType, name string, pattern kadm.ACLPattern, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) kadm.DescribedACL {
		return kadm.DescribedACL{Principal: principal, Host: "*", Type: typ, Name: name, Pattern: pattern, Operation: op, Permission: perm}
	}
	const me = "User:mirror"
	allowT := func(name string, pattern kadm.ACLPattern, op kmsg.ACLOperation) kadm.DescribedACL {
		return acl(me, kmsg.ACLResourceTypeTopic, name, pattern, op, kmsg.ACLPermissionTypeAllow)
	}
	orders := topic("orders")
	tests := []struct {
		name string
		acls []kadm.DescribedACL
		res  Resource
		op   kmsg.ACLOperation
		want bool
	}{
		{"literal", []kadm.DescribedACL{allowT("orders", kadm.ACLPatternLiteral, kmsg.ACLOperationWrite)}, orders, kmsg.ACLOperationWrite, true},
		{"other topic", []kadm.DescribedACL{allowT("order", kadm.ACLPatternLiteral, kmsg.ACLOperationWrite)}, orders, kmsg.ACLOperationWrite, false},
		{"wildcard", []kadm.DescribedACL{allowT("*", kadm.ACLPatternLiteral, kmsg.ACLOperationWrite)}, orders, kmsg.ACLOperationWrite, true},
		{"prefixed", []kadm.DescribedACL{allowT("ord", kadm.ACLPatternPrefixed, kmsg.ACLOperationWrite)}, orders, kmsg.ACLOperationWrite, true},
		{"prefix covers a prefix", []kadm.DescribedACL{allowT("ord", kadm.ACLPatternPrefixed, kmsg.ACLOperationRead)},
			Resource{Type: TypeTopic, Name: "orders.", Pattern: Prefixed}, kmsg.ACLOperationRead, true},
		{"literal does not cover a prefix", []kadm.DescribedACL{allowT("orders", kadm.ACLPatternLiteral, kmsg.ACLOperationRead)},
			Resource{Type: TypeTopic, Name: "orders", Pattern: Prefixed}, kmsg.ACLOperationRead, false},
		{"all", []kadm.DescribedACL{allowT("orders", kadm.ACLPatternLiteral, kmsg.ACLOperationAll)}, orders, kmsg.ACLOperationCreate, true},
		{"read implies describe", []kadm.DescribedACL{allowT("orders", kadm.ACLPatternLiteral, kmsg.ACLOperationRead)}, orders, kmsg.ACLOperationDescribe, true},
		{"alter configs implies describe configs", []kadm.DescribedACL{allowT("orders", kadm.ACLPatternLiteral, kmsg.ACLOperationAlterConfigs)}, orders, kmsg.ACLOperationDescribeConfigs, true},
		{"read does not imply write", []kadm.DescribedACL{allowT("orders", kadm.ACLPatternLiteral, kmsg.ACLOperationRead)}, orders, kmsg.ACLOperationWrite, false},
		{"deny wins", []kadm.DescribedACL{allowT("*", kadm.ACLPatternLiteral, kmsg.ACLOperationWrite),
			acl(me, kmsg.ACLResourceTypeTopic, "orders", kadm.ACLPatternLiteral, kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeDeny)}, orders, kmsg.ACLOperationWrite, false},
		{"another principal", []kadm.DescribedACL{acl("User:other", kmsg.ACLResourceTypeTopic, "orders", kadm.ACLPatternLiteral, kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeAllow)},
			orders, kmsg.ACLOperationWrite, false},
		{"every principal", []kadm.DescribedACL{acl("User:*", kmsg.ACLResourceTypeTopic, "orders", kadm.ACLPatternLiteral, kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeAllow)},
			orders, kmsg.ACLOperationWrite, true},
		{"group is not topic", []kadm.DescribedACL{acl(me, kmsg.ACLResourceTypeGroup, "orders", kadm.ACLPatternLiteral, kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow)},
			orders, kmsg.ACLOperationRead, false},
		{"cluster", []kadm.DescribedACL{acl(me, kmsg.ACLResourceTypeCluster, "kafka-cluster", kadm.ACLPatternLiteral, kmsg.ACLOperationAlter, kmsg.ACLPermissionTypeAllow)},
			theCluster, kmsg.ACLOperationAlter, true},
		{"nothing", nil, orders, kmsg.ACLOperationRead, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := allowed(tt.acls, me, tt.res, tt.op); got != tt.want {
				t.Errorf("allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

// Where the broker gives no authorized operations, a topic it refuses to
// describe lacks every operation that implies Describe, and the others
// are left to the ACLs.
func TestByAnswer(t *testing.T) {
	hidden := answer{ops: notGiven, err: kerr.TopicAuthorizationFailed}
	tests := []struct {
		name   string
		a      answer
		op     kmsg.ACLOperation
		want   Status
		decide bool
	}{
		{"bits: granted", answer{ops: 1 << int32(kmsg.ACLOperationRead)}, kmsg.ACLOperationRead, Present, true},
		{"bits: not granted", answer{ops: 1 << int32(kmsg.ACLOperationRead)}, kmsg.ACLOperationWrite, Missing, true},
		{"hidden: no read", hidden, kmsg.ACLOperationRead, Missing, true},
		{"hidden: describe configs undecided", hidden, kmsg.ACLOperationDescribeConfigs, "", false},
		{"absent, no bits: undecided", answer{ops: notGiven, err: kerr.UnknownTopicOrPartition}, kmsg.ACLOperationWrite, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := byAnswer(Result{}, tt.a, tt.op, kerr.TopicAuthorizationFailed, kerr.UnknownTopicOrPartition)
			if ok != tt.decide || r.Status != tt.want {
				t.Errorf("byAnswer = %q, %v; want %q, %v", r.Status, ok, tt.want, tt.decide)
			}
		})
	}
}
