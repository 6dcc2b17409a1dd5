package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/discover"
)

// syncLoop keeps the configs or ACLs of the target topics in line with the
// source: once the worker has joined its group, then every interval. Only
// the group's leader syncs, for every worker.
func (r *run) syncLoop(ctx context.Context, interval time.Duration, what string, sync func(context.Context, []discover.Topic) error) error {
	run := func(ctx context.Context) error {
		if !r.member.Leader() {
			return nil
		}
		return sync(ctx, r.cat.ready())
	}
	for r.member.Rebalances() == 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := run(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn(what+" failed; retrying", "err", err)
	}
	return r.every(ctx, interval, what, run)
}

// syncConfigs sets on each target topic the configs set on its source
// topic (less config.properties.exclude), and removes those the source
// does not set, as MM2 does with use.defaults.from=target.
func (r *run) syncConfigs(ctx context.Context, topics []discover.Topic) error {
	if len(topics) == 0 {
		return nil
	}
	want, err := discover.SourceConfigs(ctx, r.srcAdm, r.cfg, topics)
	if err != nil {
		return err
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Target
	}
	rcs, err := r.tgtAdm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return fmt.Errorf("describe configs of target topics: %w", err)
	}
	have := map[string]map[string]*string{}
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("describe configs of target topic %q: %w", rc.Name, rc.Err)
		}
		m := map[string]*string{}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				m[c.Key] = c.Value
			}
		}
		have[rc.Name] = m
	}
	var errs []error
	for _, t := range topics {
		var alter []kadm.AlterConfig
		for k, v := range want[t.Source] {
			if cur, ok := have[t.Target][k]; !ok || deref(cur) != deref(v) {
				alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
			}
		}
		for k := range have[t.Target] {
			if _, ok := want[t.Source][k]; ok {
				continue
			}
			if excluded, _ := r.cfg.ConfigPropertiesExclude.Match(k); !excluded {
				alter = append(alter, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
		}
		if len(alter) == 0 {
			continue
		}
		resp, err := r.tgtAdm.AlterTopicConfigs(ctx, alter, t.Target)
		if err == nil {
			for _, res := range resp {
				err = errors.Join(err, res.Err)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("alter configs of target topic %q: %w", t.Target, err))
			continue
		}
		r.log.Info("synced topic configs", "topic", t.Target, "changes", len(alter))
	}
	return errors.Join(errs...)
}

// syncACLs copies the literal topic ACLs of the selected topics to their
// target topics, as MM2 does: ALLOW WRITE is not copied (only kmirror
// writes to a mirrored topic) and ALLOW ALL becomes ALLOW READ.
func (r *run) syncACLs(ctx context.Context, topics []discover.Topic) error {
	if len(topics) == 0 {
		return nil
	}
	targets := map[string]string{}
	for _, t := range topics {
		targets[t.Source] = t.Target
	}
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeTopic
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctx, r.srcCl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if errors.Is(err, kerr.SecurityDisabled) {
		return nil // no authorizer on the source: no ACLs to copy
	}
	if err != nil {
		return fmt.Errorf("describe ACLs of %q: %w", r.cfg.Source, err)
	}
	create := kmsg.NewPtrCreateACLsRequest()
	for _, res := range resp.Resources {
		target, ok := targets[res.ResourceName]
		if !ok {
			continue
		}
		for _, a := range res.ACLs {
			op := a.Operation
			if a.PermissionType == kmsg.ACLPermissionTypeAllow {
				switch op {
				case kmsg.ACLOperationWrite:
					continue
				case kmsg.ACLOperationAll:
					op = kmsg.ACLOperationRead
				}
			}
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, target, kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host, c.Operation, c.PermissionType = a.Principal, a.Host, op, a.PermissionType
			create.Creations = append(create.Creations, c)
		}
	}
	if len(create.Creations) == 0 {
		return nil
	}
	cresp, err := create.RequestWith(ctx, r.tgtCl)
	if err != nil {
		return fmt.Errorf("create ACLs on %q: %w", r.cfg.Target, err)
	}
	var errs []error
	for _, res := range cresp.Results {
		if err := kerr.ErrorForCode(res.ErrorCode); err != nil {
			errs = append(errs, fmt.Errorf("create ACL on %q: %w", r.cfg.Target, err))
		}
	}
	return errors.Join(errs...)
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}
