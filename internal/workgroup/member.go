package workgroup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProtocolType is the group protocol type of kmirror's workers: tools that
// list groups see it instead of "consumer", and a consumer group of the
// same name is refused rather than mixed in.
const ProtocolType = "kmirror"

// Name is the group through which the workers of the flow from source to
// target share its partitions.
func Name(source, target string) string { return "kmirror." + source + "." + target }

// Partitions are topic partitions: topic → partition numbers, sorted.
type Partitions map[string][]int32

// Len is the number of partitions.
func (ps Partitions) Len() int {
	n := 0
	for _, p := range ps {
		n += len(p)
	}
	return n
}

// Options are the group's name and timings.
type Options struct {
	Group                                               string
	SessionTimeout, HeartbeatInterval, RebalanceTimeout time.Duration
	// Protocol, when set, names the members' balancing protocol instead of
	// the balancer's own name: the coordinator refuses a member whose
	// protocol no member of the group shares, so that workers that would
	// split the work differently never share it.
	Protocol string
	// Unit names what the shared partitions stand for in the logs:
	// "partitions" unless set.
	Unit string
}

// Handler is what the group asks of the worker. Its methods are called one
// at a time, from Run.
type Handler interface {
	// Topics returns the topics the worker is able to copy and their
	// partition counts; the leader shares out those it sees.
	Topics() map[string]int32
	// Assigned starts copying partitions the worker gained.
	Assigned(ctx context.Context, ps Partitions)
	// Revoked stops copying partitions the worker gives up: when it
	// returns, nothing more of theirs is written and their progress is
	// persisted, so the next owner resumes exactly there.
	Revoked(ctx context.Context, ps Partitions)
	// Lost drops partitions at once, persisting nothing more of theirs:
	// the worker can no longer prove it owns them. It returns once nothing
	// the worker wrote for them can still reach the target (produce
	// requests in flight answered or failed), or when ctx ends; the worker
	// rejoins only then.
	Lost(ctx context.Context, ps Partitions)
}

// Member is one worker in the group.
type Member struct {
	cl   *kgo.Client
	opts Options
	h    Handler
	bal  kgo.GroupBalancer
	log  *slog.Logger

	mu         sync.Mutex
	memberID   string
	generation int32
	leader     bool

	// validUntil (unix nanoseconds) is when the lease runs out: the
	// coordinator cannot have expired the member before then.
	validUntil atomic.Int64
	// lost is set when the lease ran out or the coordinator forgot the
	// member; it stays set until Run has dropped every partition.
	lost atomic.Bool
	// owning is how many partitions the member owns: a lease that runs
	// out only matters when it owns some.
	owning atomic.Int64
	// rejoin asks Run for a new rebalance; joining is set while Run joins,
	// when a heartbeat's news of a rebalance is the one being joined.
	rejoin  chan struct{}
	joining atomic.Bool
	// rebalances counts completed rebalances this member took part in;
	// losses the times it dropped its partitions unconfirmed.
	rebalances, losses atomic.Int64

	// The heartbeats run from the first Run until Stop or Leave: they
	// outlive Run, so that a worker stays confirmed while it persists its
	// progress on the way out.
	hbOnce sync.Once
	hbStop context.CancelFunc
	hbDone chan struct{}
}

// New prepares a member; nothing is sent until Run.
func New(opts Options, h Handler, log *slog.Logger) *Member {
	return &Member{opts: opts, h: h, bal: kgo.CooperativeStickyBalancer(), generation: -1,
		log: log.With("group", opts.Group), rejoin: make(chan struct{}, 1), hbDone: make(chan struct{})}
}

func (m *Member) protocol() string {
	if m.opts.Protocol != "" {
		return m.opts.Protocol
	}
	return m.bal.ProtocolName()
}

// margin is how long before the session would expire the member stops
// writing: enough for a write handed out just before to land.
func (m *Member) margin() time.Duration {
	return max(m.opts.SessionTimeout/3, 2*m.opts.HeartbeatInterval)
}

// Valid tells whether the member may write the partitions it owns: the
// coordinator confirmed its membership less than the session timeout
// (minus a margin) ago. Once false while the member owns partitions, it
// stays false until Run has dropped them all.
func (m *Member) Valid() bool {
	if m.lost.Load() {
		return false
	}
	if time.Now().UnixNano() < m.validUntil.Load() {
		return true
	}
	if m.owning.Load() > 0 && m.lost.CompareAndSwap(false, true) {
		m.Rejoin()
	}
	return false
}

// extend renews the lease after the coordinator answered a request sent at
// sent: it kept the member's session alive at least from then.
func (m *Member) extend(sent time.Time) {
	until := sent.Add(m.opts.SessionTimeout - m.margin()).UnixNano()
	for {
		cur := m.validUntil.Load()
		if until <= cur || m.validUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// Rejoin asks for a rebalance, as when the topics to share changed.
func (m *Member) Rejoin() {
	select {
	case m.rejoin <- struct{}{}:
	default:
	}
}

// Leader tells whether this member leads the group.
func (m *Member) Leader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader
}

// ID returns the member id the coordinator gave, or "" before the first
// join.
func (m *Member) ID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.memberID
}

// Rebalances is the number of rebalances this member completed.
func (m *Member) Rebalances() int64 { return m.rebalances.Load() }

// Losses is the number of times the member dropped its partitions because
// the coordinator did not confirm it in time.
func (m *Member) Losses() int64 { return m.losses.Load() }

func (m *Member) current() (string, int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.memberID, m.generation
}

// errFatal marks errors a retry cannot fix: permissions, a group of the
// same name used by something else, timings the broker refuses.
type errFatal struct{ error }

// Run takes part in the group through cl until ctx ends, calling the
// handler as partitions come and go; call it once. It returns an error
// only when membership is impossible (a missing permission, a name clash);
// every partition still owned is then reported lost. The member stays in
// the group after Run returns: call Leave once the owned partitions are
// persisted.
func (m *Member) Run(ctx context.Context, cl *kgo.Client) error {
	m.cl = cl
	m.hbOnce.Do(func() {
		hbCtx, stop := context.WithCancel(context.Background())
		m.mu.Lock()
		m.hbStop = stop
		m.mu.Unlock()
		go func() {
			defer close(m.hbDone)
			m.heartbeat(hbCtx)
		}()
	})

	owned := Partitions{}
	own := func(ps Partitions) {
		owned = ps
		m.owning.Store(int64(ps.Len()))
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if m.lost.Load() {
			if owned.Len() > 0 {
				m.log.Warn("lost the partitions: the coordinator did not confirm this worker in time", "partitions", owned.Len())
				m.h.Lost(ctx, owned)
				m.losses.Add(1)
				own(Partitions{})
			}
			m.lost.Store(false)
			m.validUntil.Store(0)
		}
		assigned, err := m.join(ctx, owned)
		if err != nil {
			var fatal errFatal
			if errors.As(err, &fatal) {
				if owned.Len() > 0 {
					m.h.Lost(ctx, owned)
				}
				return fatal.error
			}
			if ctx.Err() != nil {
				break
			}
			m.log.Warn("joining the workers' group; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if assigned == nil {
			continue // the group moved on meanwhile: join again
		}
		m.rebalances.Add(1)
		revoked, added := diff(owned, assigned), diff(assigned, owned)
		if revoked.Len() > 0 {
			m.h.Revoked(ctx, revoked)
			own(diff(owned, revoked))
		}
		if m.lost.Load() {
			continue // what is left is dropped at the top
		}
		// Owned from here: a lease running out while the new partitions
		// load drops them too.
		own(assigned)
		if added.Len() > 0 {
			m.h.Assigned(ctx, added)
		}
		_, gen := m.current()
		m.log.Info("workers rebalanced", "generation", gen, "leader", m.Leader(), cmp.Or(m.opts.Unit, "partitions"), owned.Len(),
			"gained", added.Len(), "gave_up", revoked.Len())
		if revoked.Len() > 0 {
			// Cooperative: what was given up goes to its new owner in the
			// next rebalance, now that nothing of it is written here.
			continue
		}
		select {
		case <-ctx.Done():
		case <-m.rejoin:
		}
	}
	return nil
}

// join runs one JoinGroup and SyncGroup round and returns the assignment,
// or nil when the group started another rebalance meanwhile.
func (m *Member) join(ctx context.Context, owned Partitions) (Partitions, error) {
	m.joining.Store(true)
	defer m.joining.Store(false)
	// Drain a pending rejoin request: this round serves it.
	select {
	case <-m.rejoin:
	default:
	}
	topics := m.h.Topics()
	interests := slices.Sorted(maps.Keys(topics))
	memberID, gen := m.current()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = m.opts.Group
	req.SessionTimeoutMillis = int32(m.opts.SessionTimeout.Milliseconds())
	req.RebalanceTimeoutMillis = int32(m.opts.RebalanceTimeout.Milliseconds())
	req.ProtocolType = ProtocolType
	req.MemberID = memberID
	proto := kmsg.NewJoinGroupRequestProtocol()
	proto.Name = m.protocol()
	proto.Metadata = m.bal.JoinGroupMetadata(interests, owned, gen)
	req.Protocols = append(req.Protocols, proto)

	sent := time.Now()
	resp, err := req.RequestWith(ctx, m.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	switch {
	case err == nil:
	case errors.Is(err, kerr.MemberIDRequired):
		m.setMember(resp.MemberID, -1, false)
		return nil, nil
	case errors.Is(err, kerr.UnknownMemberID):
		m.forget()
		return nil, nil
	default:
		return nil, m.explain(err)
	}
	m.setMember(resp.MemberID, resp.Generation, resp.LeaderID == resp.MemberID)
	m.extend(sent)

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group = m.opts.Group
	sync.Generation = resp.Generation
	sync.MemberID = resp.MemberID
	sync.ProtocolType = kmsg.StringPtr(ProtocolType)
	sync.Protocol = resp.Protocol
	if resp.LeaderID == resp.MemberID {
		plan, err := m.balance(resp.Members, topics)
		if err != nil {
			// Every member then gets nothing and the group is stuck: say
			// so loudly and try again.
			return nil, fmt.Errorf("share out the partitions: %w", err)
		}
		sync.GroupAssignment = plan
	}
	sent = time.Now()
	sresp, err := sync.RequestWith(ctx, m.cl)
	if err == nil {
		err = kerr.ErrorForCode(sresp.ErrorCode)
	}
	switch {
	case err == nil:
	case errors.Is(err, kerr.RebalanceInProgress):
		return nil, nil
	case errors.Is(err, kerr.UnknownMemberID):
		m.forget()
		return nil, nil
	case errors.Is(err, kerr.IllegalGeneration):
		return nil, nil
	default:
		return nil, m.explain(err)
	}
	m.extend(sent)
	assigned, err := m.bal.ParseSyncAssignment(sresp.MemberAssignment)
	if err != nil {
		return nil, fmt.Errorf("read the assignment: %w", err)
	}
	out := Partitions{}
	for t, ps := range assigned {
		if len(ps) > 0 {
			out[t] = slices.Sorted(slices.Values(ps))
		}
	}
	return out, nil
}

// explain turns the errors no retry can fix into errFatal, naming what to
// change; the others are returned as they are, to retry.
func (m *Member) explain(err error) error {
	switch {
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return errFatal{fmt.Errorf("join group %q: missing Read on group:%s (%w)", m.opts.Group, m.opts.Group, err)}
	case errors.Is(err, kerr.InconsistentGroupProtocol):
		return errFatal{fmt.Errorf("join group %q: its members share the work in another way (protocol %q here): kmirror workers of the flow in the other delivery mode or with other transaction.slots (stop them all to switch), or something that is not kmirror (%w)",
			m.opts.Group, m.protocol(), err)}
	case errors.Is(err, kerr.InvalidSessionTimeout):
		return errFatal{fmt.Errorf("join group %q: the broker refuses session.timeout.ms=%d: it must lie within its group.min.session.timeout.ms and group.max.session.timeout.ms (%w)",
			m.opts.Group, m.opts.SessionTimeout.Milliseconds(), err)}
	}
	return err
}

func (m *Member) balance(members []kmsg.JoinGroupResponseMember, topics map[string]int32) ([]kmsg.SyncGroupRequestGroupAssignment, error) {
	b, _, err := m.bal.MemberBalancer(members)
	if err != nil {
		return nil, err
	}
	if be, ok := b.(kgo.GroupMemberBalancerOrError); ok {
		plan, err := be.BalanceOrError(topics)
		if err != nil {
			return nil, err
		}
		return plan.IntoSyncAssignment(), nil
	}
	return b.Balance(topics).IntoSyncAssignment(), nil
}

func (m *Member) setMember(id string, gen int32, leader bool) {
	m.mu.Lock()
	m.memberID, m.generation, m.leader = id, gen, leader
	m.mu.Unlock()
}

// forget drops the member id the coordinator no longer knows: whatever the
// member owned may be someone else's already.
func (m *Member) forget() {
	m.setMember("", -1, false)
	m.lost.Store(true)
}

// heartbeat keeps the session alive and renews the lease until ctx ends.
func (m *Member) heartbeat(ctx context.Context) {
	tick := time.NewTicker(m.opts.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m.Valid() // notices a lease that ran out while nothing was copied
		id, gen := m.current()
		if id == "" || gen < 0 {
			continue
		}
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.MemberID, req.Generation = m.opts.Group, id, gen
		sent := time.Now()
		// A heartbeat that takes longer than the session renews nothing:
		// give up on it and send the next one.
		hctx, cancel := context.WithTimeout(ctx, m.opts.SessionTimeout)
		resp, err := req.RequestWith(hctx, m.cl)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.log.Debug("heartbeat", "err", err)
			}
			continue
		}
		switch err := kerr.ErrorForCode(resp.ErrorCode); {
		case err == nil:
			m.extend(sent)
		case errors.Is(err, kerr.RebalanceInProgress):
			// The coordinator still counts the member in and kept its
			// session alive; it wants everyone to join again — unless
			// this member is joining that rebalance already, or has
			// joined it since the heartbeat left.
			m.extend(sent)
			if _, now := m.current(); now == gen && !m.joining.Load() {
				m.Rejoin()
			}
		case errors.Is(err, kerr.IllegalGeneration):
			if _, now := m.current(); now == gen {
				m.Rejoin()
			}
		case errors.Is(err, kerr.UnknownMemberID):
			if now, _ := m.current(); now == id {
				m.log.Warn("the coordinator no longer knows this worker; dropping its partitions")
				m.forget()
				m.Rejoin()
			}
		default:
			m.log.Debug("heartbeat", "err", err)
		}
	}
}

// Stop stops heartbeating without leaving the group, as a crash would: the
// coordinator gives the member's partitions away after the session
// timeout.
func (m *Member) Stop() {
	m.mu.Lock()
	stop := m.hbStop
	m.mu.Unlock()
	if stop != nil {
		stop()
		<-m.hbDone
	}
}

// Leave stops heartbeating and leaves the group, so that the other workers
// take the partitions over at once rather than after the session timeout.
func (m *Member) Leave(ctx context.Context) error {
	m.Stop()
	id, _ := m.current()
	if id == "" {
		return nil
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group, req.MemberID = m.opts.Group, id
	mem := kmsg.NewLeaveGroupRequestMember()
	mem.MemberID = id
	req.Members = append(req.Members, mem)
	resp, err := req.RequestWith(ctx, m.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err == nil {
		for _, r := range resp.Members {
			if err = kerr.ErrorForCode(r.ErrorCode); err != nil {
				break
			}
		}
	}
	m.setMember("", -1, false)
	if err != nil && !errors.Is(err, kerr.UnknownMemberID) {
		return fmt.Errorf("leave group %q: %w", m.opts.Group, err)
	}
	return nil
}

// diff returns the partitions of a that b lacks.
func diff(a, b Partitions) Partitions {
	out := Partitions{}
	for t, ps := range a {
		for _, p := range ps {
			if !slices.Contains(b[t], p) {
				out[t] = append(out[t], p)
			}
		}
	}
	return out
}
