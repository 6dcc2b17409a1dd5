package preflight

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
)

// Status is what a check found about one need.
type Status string

// Statuses of a need.
const (
	Present Status = "present"
	Missing Status = "missing"
	Unknown Status = "unknown"
)

// Result is one need and what the cluster said about it.
type Result struct {
	Need
	Status Status `json:"status"`
	// Reason says how a status other than present was found, or why it
	// could not be.
	Reason string `json:"reason,omitempty"`
}

// notGiven is the authorized-operations value of a broker that did not
// compute them (KIP-430's default).
const notGiven = math.MinInt32

// checker checks the needs of one cluster with one client.
type checker struct {
	cl        *kgo.Client
	principal string

	clusterOps int32
	topics     map[string]answer
	groups     map[string]answer
	creates    map[string]error

	acls     []kadm.DescribedACL
	aclsErr  error
	aclsRead bool
}

// answer is what the broker said about a topic or group.
type answer struct {
	ops int32
	err error
}

// checkCluster checks needs, all of one cluster, through cl.
func checkCluster(ctx context.Context, cl *kgo.Client, c *config.Cluster, needs []Need) []Result {
	ch := &checker{cl: cl, principal: principal(ctx, c), clusterOps: notGiven,
		topics: map[string]answer{}, groups: map[string]answer{}, creates: map[string]error{}}
	var topics, groups, creates []string
	for _, n := range needs {
		name := askedName(n.Resource)
		switch {
		case n.Resource.Type == TypeTopic && n.Operation == OpCreate:
			creates = appendNew(creates, name)
		case n.Resource.Type == TypeTopic:
			topics = appendNew(topics, name)
		case n.Resource.Type == TypeGroup:
			groups = appendNew(groups, name)
		}
	}
	ch.describeCluster(ctx)
	ch.topics = topicAnswers(ctx, cl, topics)
	ch.groups = groupAnswers(ctx, cl, groups)
	ch.validateCreates(ctx, creates)

	results := make([]Result, len(needs))
	var idempotent []int
	for i, n := range needs {
		if n.Operation == OpIdempotentWrite {
			idempotent = append(idempotent, i)
			continue
		}
		results[i] = ch.check(ctx, n)
	}
	// Evaluated last: a Write granted on a topic grants it too.
	for _, i := range idempotent {
		results[i] = ch.check(ctx, needs[i])
		if results[i].Status == Present {
			continue
		}
		for _, r := range results {
			if r.Operation == OpWrite && r.Resource.Type == TypeTopic && r.Status == Present {
				results[i] = Result{Need: needs[i], Status: Present, Reason: fmt.Sprintf("granted by Write on %s (Kafka 3.0+)", r.Resource)}
				break
			}
		}
	}
	return results
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (ch *checker) describeCluster(ctx context.Context) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeClusterAuthorizedOperations = true
	resp, err := req.RequestWith(ctx, ch.cl)
	if err == nil && resp.ErrorCode == 0 {
		ch.clusterOps = resp.ClusterAuthorizedOperations
	}
}

// probeName is the topic or group name the broker is asked about for
// every name ("*"): one that exists nowhere, covered by an ACL for every
// name.
const probeName = "kmirror-preflight-probe"

// askedName is the name the broker is asked about for a resource: its own,
// or for a prefix or every name, one they cover (the prefix itself, or
// probeName), whose answer stands for them.
func askedName(r Resource) string {
	switch {
	case r.Type == TypeCluster:
		return ""
	case r.Pattern == Prefixed:
		return r.Name
	case r.Name == "*":
		return probeName
	}
	return r.Name
}

// topicAnswers asks what the user may do with each named topic, each
// answered on its own.
func topicAnswers(ctx context.Context, cl *kgo.Client, names []string) map[string]answer {
	out := map[string]answer{}
	if len(names) == 0 {
		return out
	}
	req := metadataOf(names)
	req.IncludeTopicAuthorizedOperations = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		for _, name := range names {
			out[name] = answer{ops: notGiven, err: err}
		}
		return out
	}
	for _, t := range resp.Topics {
		if t.Topic != nil {
			out[*t.Topic] = answer{ops: t.AuthorizedOperations, err: kerr.ErrorForCode(t.ErrorCode)}
		}
	}
	return out
}

// groupAnswers asks what the user may do with each named group.
func groupAnswers(ctx context.Context, cl *kgo.Client, names []string) map[string]answer {
	out := map[string]answer{}
	if len(names) == 0 {
		return out
	}
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = names
	req.IncludeAuthorizedOperations = true
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			// FindCoordinator refuses a group the user may not describe.
			if sreq, ok := shard.Req.(*kmsg.DescribeGroupsRequest); ok {
				for _, g := range sreq.Groups {
					out[g] = answer{ops: notGiven, err: shard.Err}
				}
			}
			continue
		}
		for _, g := range shard.Resp.(*kmsg.DescribeGroupsResponse).Groups {
			out[g.Group] = answer{ops: g.AuthorizedOperations, err: kerr.ErrorForCode(g.ErrorCode)}
		}
	}
	return out
}

// validateCreates asks the broker to validate creating the topics: it
// checks Create on the cluster or the topic before anything else, and
// creates nothing.
func (ch *checker) validateCreates(ctx context.Context, names []string) {
	if len(names) == 0 {
		return
	}
	resps, err := kadm.NewClient(ch.cl).ValidateCreateTopics(ctx, 1, -1, nil, names...)
	for _, name := range names {
		if err != nil {
			ch.creates[name] = err
			continue
		}
		r, ok := resps[name]
		if !ok {
			ch.creates[name] = errors.New("no answer from the broker")
			continue
		}
		ch.creates[name] = r.Err
	}
}

func (ch *checker) check(ctx context.Context, n Need) Result {
	res := Result{Need: n}
	op := kafkaOps[n.Operation]
	switch {
	case n.Resource.Type == TypeCluster:
		if ch.clusterOps != notGiven {
			return byBits(res, ch.clusterOps, op, "")
		}
	case n.Resource.Type == TypeTransactionalID:
		// A transactional id the user may not even describe cannot be
		// written; else only ACLs can tell.
		id := n.Resource.Name + "0"
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{id}
		if resp, err := req.RequestWith(ctx, ch.cl); err == nil && len(resp.TransactionStates) == 1 &&
			errors.Is(kerr.ErrorForCode(resp.TransactionStates[0].ErrorCode), kerr.TransactionalIDAuthorizationFailed) {
			res.Status, res.Reason = Missing, fmt.Sprintf("the broker refuses to describe transactional id %q, so not even Describe is granted", id)
			return res
		}
	case n.Resource.Type == TypeTopic && n.Operation == OpCreate:
		err := ch.creates[askedName(n.Resource)]
		switch {
		case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
			res.Status = Present
			return res
		case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
			res.Status, res.Reason = Missing, "CreateTopics (validate only) was refused"
			return res
		case isKafkaError(err):
			// The broker checks authorization first: any other answer
			// means creating was allowed.
			res.Status, res.Reason = Present, fmt.Sprintf("authorized (the broker would refuse it for another reason: %v)", err)
			return res
		}
		res.Reason = fmt.Sprintf("CreateTopics (validate only) failed: %v", err)
	case n.Resource.Type == TypeTopic:
		a := ch.topics[askedName(n.Resource)]
		if r, ok := byAnswer(res, a, op, kerr.TopicAuthorizationFailed, kerr.UnknownTopicOrPartition); ok {
			return stands(r)
		}
	case n.Resource.Type == TypeGroup:
		a := ch.groups[askedName(n.Resource)]
		if r, ok := byAnswer(res, a, op, kerr.GroupAuthorizationFailed, kerr.GroupIDNotFound); ok {
			return stands(r)
		}
	}
	return ch.byACLs(ctx, res, op)
}

// stands says, of a need for a prefix or every name decided by the
// broker's answer about one name they cover, which name it asked about.
func stands(res Result) Result {
	if name := askedName(res.Resource); name != res.Resource.Name {
		res.Reason = strings.TrimPrefix(res.Reason+fmt.Sprintf("; as the broker answers for %s %q", res.Resource.Type, name), "; ")
	}
	return res
}

// byAnswer decides a need from the broker's answer about a topic or group,
// if it can.
func byAnswer(res Result, a answer, op kmsg.ACLOperation, denied, absent error) (Result, bool) {
	hidden := errors.Is(a.err, denied)
	if a.ops != notGiven && (a.err == nil || hidden || errors.Is(a.err, absent)) {
		return byBits(res, a.ops, op, ""), true
	}
	if hidden && impliesDescribe(op) {
		res.Status, res.Reason = Missing, "the broker refuses to describe it, so not even Describe is granted"
		return res, true
	}
	return res, false
}

func byBits(res Result, bits int32, op kmsg.ACLOperation, reason string) Result {
	res.Status, res.Reason = Missing, reason
	if bits&(1<<int32(op)) != 0 {
		res.Status = Present
	}
	return res
}

// impliesDescribe: an ALLOW of these grants Describe, so without Describe
// none of them is granted.
func impliesDescribe(op kmsg.ACLOperation) bool {
	switch op {
	case kmsg.ACLOperationDescribe, kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter:
		return true
	}
	return false
}

func isKafkaError(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke)
}

// byACLs decides a need from the ACLs of the user, for resources whose
// authorized operations the broker did not give.
func (ch *checker) byACLs(ctx context.Context, res Result, op kmsg.ACLOperation) Result {
	if !ch.aclsRead {
		ch.aclsRead = true
		results, err := kadm.NewClient(ch.cl).DescribeACLs(ctx, kadm.NewACLs().AnyResource().
			ResourcePatternType(kadm.ACLPatternAny).Allow().Deny().Operations(kadm.OpAny).AllowHosts().DenyHosts())
		for _, r := range results {
			err = errors.Join(err, r.Err)
			ch.acls = append(ch.acls, r.Described...)
		}
		ch.aclsErr = err
	}
	switch {
	case errors.Is(ch.aclsErr, kerr.SecurityDisabled):
		res.Status, res.Reason = Present, "the cluster has no authorizer"
	case errors.Is(ch.aclsErr, kerr.ClusterAuthorizationFailed):
		res.Status, res.Reason = Unknown, "the broker does not report it, and reading ACLs needs Describe on the cluster"
	case ch.principal == "":
		res.Status, res.Reason = Unknown, "the broker does not report it, and kmirror cannot read the principal from its OAuth token (not a JWT, or without the sub claim)"
	case ch.aclsErr != nil:
		res.Status, res.Reason = Unknown, fmt.Sprintf("the broker does not report it, and reading ACLs failed: %v", ch.aclsErr)
	case allowed(ch.acls, ch.principal, res.Resource, op):
		res.Status, res.Reason = Present, fmt.Sprintf("from the ACLs of %s", ch.principal)
	case ch.super():
		res.Status, res.Reason = Present, fmt.Sprintf("%s is a super user: no ACL names it, yet the broker grants it ClusterAction", ch.principal)
	default:
		res.Status, res.Reason = Missing, fmt.Sprintf("from the ACLs of %s", ch.principal)
	}
	return res
}

// super tells a super user (super.users), whom the authorizer lets do
// anything without an ACL: no ACL names it, yet the broker grants it
// ClusterAction on the cluster, which only brokers need.
func (ch *checker) super() bool {
	if ch.clusterOps == notGiven || ch.clusterOps&(1<<int32(kmsg.ACLOperationClusterAction)) == 0 {
		return false
	}
	for _, a := range ch.acls {
		if a.Principal == ch.principal {
			return false
		}
	}
	return true
}

// allowed evaluates ACLs as Kafka's authorizer does for principal on a
// resource: a matching DENY wins, else a matching ALLOW grants; ALLOW of
// Read, Write, Delete or Alter implies Describe and ALLOW AlterConfigs
// implies DescribeConfigs. Hosts are not known from here and not checked.
// For a prefixed resource (a KafkaUser's), a prefixed ACL must cover it.
func allowed(acls []kadm.DescribedACL, principal string, r Resource, op kmsg.ACLOperation) bool {
	granted := false
	for _, a := range acls {
		if a.Principal != principal && a.Principal != "User:*" {
			continue
		}
		if !covers(a, r) || !grants(a, op) {
			continue
		}
		if a.Permission == kmsg.ACLPermissionTypeDeny {
			return false
		}
		granted = true
	}
	return granted
}

func covers(a kadm.DescribedACL, r Resource) bool {
	want := map[string]kmsg.ACLResourceType{TypeTopic: kmsg.ACLResourceTypeTopic, TypeGroup: kmsg.ACLResourceTypeGroup,
		TypeTransactionalID: kmsg.ACLResourceTypeTransactionalId, TypeCluster: kmsg.ACLResourceTypeCluster}[r.Type]
	if a.Type != want {
		return false
	}
	if r.Type == TypeCluster {
		return true
	}
	switch a.Pattern {
	case kadm.ACLPatternLiteral:
		return a.Name == "*" || a.Name == r.Name && r.Pattern == Literal
	case kadm.ACLPatternPrefixed:
		return len(r.Name) >= len(a.Name) && r.Name[:len(a.Name)] == a.Name
	}
	return false
}

func grants(a kadm.DescribedACL, op kmsg.ACLOperation) bool {
	aop := kmsg.ACLOperation(a.Operation)
	if aop == kmsg.ACLOperationAll || aop == op {
		return true
	}
	if a.Permission != kmsg.ACLPermissionTypeAllow {
		return false
	}
	switch op {
	case kmsg.ACLOperationDescribe:
		return aop == kmsg.ACLOperationRead || aop == kmsg.ACLOperationWrite || aop == kmsg.ACLOperationDelete || aop == kmsg.ACLOperationAlter
	case kmsg.ACLOperationDescribeConfigs:
		return aop == kmsg.ACLOperationAlterConfigs
	}
	return false
}

// principal is who the cluster sees: the user its OAuth token names, the
// SASL user, else the subject of the client certificate (Kafka's default
// principal for mutual TLS; Strimzi's is CN=<user>, the same for its
// certificates), else ANONYMOUS. "" when the token names none kmirror can
// read (an opaque token).
func principal(ctx context.Context, c *config.Cluster) string {
	switch {
	case c.SASL != nil && c.SASL.OAuth != nil:
		p, err := cluster.Principal(ctx, c)
		if err != nil {
			return ""
		}
		return p
	case c.SASL != nil:
		return "User:" + c.SASL.Username
	case c.TLS != nil && c.TLS.Certificate != nil && len(c.TLS.Certificate.Certificate) > 0:
		if cert, err := x509.ParseCertificate(c.TLS.Certificate.Certificate[0]); err == nil {
			return "User:" + cert.Subject.String()
		}
	}
	return "User:ANONYMOUS"
}

// metadataOf asks for the metadata of the topics names, without asking the
// broker to create them (a broker with auto.create.topics.enable would).
func metadataOf(names []string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	for _, name := range names {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	return req
}
