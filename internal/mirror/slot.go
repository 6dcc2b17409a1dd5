package mirror

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/progress"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// Exactly-once mode (exactly.once.source.support: enabled).
//
// A flow's partitions fall into transaction.slots fixed slots, and the
// workers' group shares out the slots, not the partitions. Each slot has a
// transactional.id of its own (config.Flow.TransactionalID): the worker
// that gains a slot first fences it — InitProducerId aborts whatever an
// earlier owner left open, and that owner, frozen or cut off, can commit
// nothing more — and only then reads the slot's progress, which therefore
// covers exactly what is committed on the target. The records copied for
// the slot's partitions, the progress that covers them and their
// offset-map segments go into one transaction, committed every
// transaction.boundary.interval.ms: a read_committed reader sees each
// source record once, or not yet. Any failure of a slot aborts its
// transaction, and the slot starts again from what is committed.

// slotTopic is the name under which the workers' group shares out an
// exactly-once flow's slots: not a valid topic name, so never a topic's.
const slotTopic = workgroup.Slots

// slotOf is the slot of partition k among n: a topic's partitions fill
// consecutive slots, so that they spread evenly.
func slotOf(k progress.Partition, n int) int32 {
	h := fnv.New32a()
	h.Write([]byte(k.Topic))
	return int32((uint64(h.Sum32()) + uint64(k.Partition)) % uint64(n))
}

// slot is one slot this worker owns: its transactional producer, and the
// first failure of its open transaction.
type slot struct {
	id       int32
	producer *kgo.Client
	// fatal stops the flow: for a failure that starting the slot again
	// cannot fix.
	fatal func(error)
	// gate is held shared while a task hands a fetch's records to the
	// producer, and alone while the slot commits: a transaction holds
	// whole fetches, and the progress it commits covers all of them.
	gate sync.RWMutex

	mu  sync.Mutex
	err error
}

// fail records the first failure of the slot's open transaction: it
// aborts at the next commit, and the slot starts again from what is
// committed — unless the failure is one no new transaction escapes (a
// record too large, a missing permission), which stops the flow as it
// does in the default mode.
func (s *slot) fail(err error) {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = err
	}
	s.mu.Unlock()
	if first && permanent(err) {
		s.fatal(err)
	}
}

// permanent tells whether a record's produce error would fail it again in
// a new transaction: a broker error that is not retriable and not about
// the transaction or the producer's identity.
func permanent(err error) bool {
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke.Retriable {
		return false
	}
	switch ke {
	case kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.InvalidProducerIDMapping, kerr.UnknownProducerID,
		kerr.TransactionAbortable, kerr.InvalidTxnState, kerr.TransactionCoordinatorFenced, kerr.OutOfOrderSequenceNumber:
		return false
	}
	return true
}

func (s *slot) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// claim opens slot id: it fences the slot's earlier producers, then begins
// a transaction.
func (r *run) claim(ctx context.Context, id int32) (*slot, error) {
	opts := append(copyProducerOptions(r.cfg, r.tgt, r.log),
		kgo.TransactionalID(r.cfg.TransactionalID(id)), kgo.TransactionTimeout(r.cfg.TransactionTimeout()),
		// The worker's buffer is shared by the slots it may own.
		kgo.MaxBufferedBytes(int(max(r.cfg.Producer.BufferMemory/int64(r.cfg.TransactionSlots), 4<<20))))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("slot %d producer: %w", id, err)
	}
	// InitProducerId bumps the epoch of the slot's transactional id: a
	// transaction an earlier owner left open is aborted (or, were its
	// commit under way, completed) before it returns, and that owner's
	// writes are refused from then on.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return nil, r.explainTransactions(id, err)
	}
	if err := cl.BeginTransaction(); err != nil {
		cl.Close()
		return nil, fmt.Errorf("slot %d: begin a transaction: %w", id, err)
	}
	return &slot{id: id, producer: cl, fatal: r.fail}, nil
}

// explainTransactions names the permission a refused transactional
// producer lacks; no retry helps with it.
func (r *run) explainTransactions(id int32, err error) error {
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return errFatal{fmt.Errorf("slot %d: missing Write on TransactionalId:%s (prefixed) on %q: exactly-once mode writes in transactions (%w)",
			id, r.cfg.TransactionalIDPrefix(), r.cfg.Target, err)}
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return errFatal{fmt.Errorf("slot %d: missing IdempotentWrite on the cluster %q (%w)", id, r.cfg.Target, err)}
	case errors.Is(err, kerr.InvalidTransactionTimeout):
		return errFatal{fmt.Errorf("slot %d: %q refuses a transaction timeout of %s (three times %s, at least 30 s): raise its transaction.max.timeout.ms or lower %s (%w)",
			id, r.cfg.Target, r.cfg.TransactionTimeout(), config.KeyTransactionInterval, config.KeyTransactionInterval, err)}
	}
	return fmt.Errorf("slot %d: fence its earlier producers: %w", id, err)
}

// slotSet is what a worker holds of an exactly-once flow's slots: the
// slots the group gave it, and those of them open.
type slotSet struct {
	// order is held while slots open, commit or close: one at a time.
	order sync.Mutex
	// grow says the selection grew since the open slots last started
	// their new partitions.
	grow atomic.Bool

	mu    sync.Mutex
	owned map[int32]bool
	open  map[int32]*slot
}

func newSlotSet() *slotSet {
	return &slotSet{owned: map[int32]bool{}, open: map[int32]*slot{}}
}

// own records that the group gave the worker slots ids.
func (ss *slotSet) own(ids []int32) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, id := range ids {
		ss.owned[id] = true
	}
}

// disown records that the group took slot id back, and returns it when it
// is open.
func (ss *slotSet) disown(id int32) *slot {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.owned, id)
	return ss.open[id]
}

// closed lists the slots the worker owns that are not open, in order.
func (ss *slotSet) closed() []int32 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var ids []int32
	for id := range ss.owned {
		if ss.open[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (ss *slotSet) opened(s *slot) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.open[s.id] = s
}

func (ss *slotSet) closedSlot(s *slot) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.open, s.id)
}

// list returns the open slots, in order.
func (ss *slotSet) list() []*slot {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]*slot, 0, len(ss.open))
	for _, s := range ss.open {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *slot) int { return int(a.id - b.id) })
	return out
}

// slotsOwned turns an assignment of the group into slot numbers.
func slotsOwned(ps map[string][]int32) []int32 { return ps[slotTopic] }

// gainSlots opens the slots the group gave this worker and starts copying
// their partitions. A slot that cannot open now is opened again at the
// next commit tick.
func (r *run) gainSlots(ctx context.Context, ids []int32) {
	r.slots.order.Lock()
	defer r.slots.order.Unlock()
	r.slots.own(ids)
	if err := r.openOwned(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("opening slots failed; retrying", "err", err)
	}
}

// openOwned opens the slots this worker owns that are not open: after
// they were gained, or after their transaction failed. r.slots.order is held.
func (r *run) openOwned(ctx context.Context) error {
	if !r.member.Valid() {
		// The group may have given the slots to another worker already:
		// claiming one would fence its new owner. Lost drops them.
		return nil
	}
	ids := r.slots.closed()
	// Every slot is fenced before any is loaded: reading the progress
	// waits for the transactions open on it, and one an earlier owner of
	// these slots left open in the middle of its commit ends only when
	// its slot is fenced (or times out).
	var errs []error
	var claimed []*slot
	for _, id := range ids {
		s, err := r.claim(ctx, id)
		var fatal errFatal
		if errors.As(err, &fatal) {
			r.fail(err) // the flow's stop closes the slots claimed
			return nil
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.slots.opened(s)
		claimed = append(claimed, s)
	}
	for _, s := range claimed {
		if err := r.startSlot(ctx, s); err != nil {
			r.dropSlot(ctx, s, false)
			var fatal errFatal
			if errors.As(err, &fatal) {
				r.fail(err)
				return nil
			}
			errs = append(errs, fmt.Errorf("slot %d: %w", s.id, err))
		}
	}
	return errors.Join(errs...)
}

// startSlot starts copying the selected partitions of slot s that are not
// copied yet: all of them when it opens, new ones as topics appear or grow.
func (r *run) startSlot(ctx context.Context, s *slot) error {
	var topics []discover.Topic
	var keys []progress.Partition
	for _, t := range r.cat.ready() {
		n := len(keys)
		for p := range t.Partitions {
			k := progress.Partition{Topic: t.Source, Partition: p}
			if r.copier.partition(k) == nil && slotOf(k, r.cfg.TransactionSlots) == s.id {
				keys = append(keys, k)
			}
		}
		if len(keys) > n {
			topics = append(topics, t)
		}
	}
	return r.copyPartitions(ctx, topics, keys, s)
}

// growSlots starts the partitions of new or grown topics in the open
// slots; until it succeeds, each commit tick tries again.
func (r *run) growSlots(ctx context.Context) error {
	r.slots.order.Lock()
	defer r.slots.order.Unlock()
	r.slots.grow.Store(true)
	return r.growOpen(ctx)
}

// growOpen starts in the open slots the partitions that are selected and
// not copied yet, when the selection grew. r.slots.order is held.
func (r *run) growOpen(ctx context.Context) error {
	if !r.slots.grow.Load() {
		return nil
	}
	var errs []error
	for _, s := range r.slots.list() {
		if err := r.startSlot(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("slot %d: %w", s.id, err))
		}
	}
	if len(errs) == 0 {
		r.slots.grow.Store(false)
	}
	return errors.Join(errs...)
}

// slotParts returns the partitions of slot s.
func (r *run) slotParts(s *slot) []*partition {
	return r.copier.partitions(func(p *partition) bool { return p.slot == s })
}

// commit ends the slot's transaction with everything its partitions
// copied: it waits for every record handed to the producer, adds the
// progress and offset-map segments that cover them, commits, and begins
// the next transaction. An error leaves the transaction to abort.
func (r *run) commit(ctx context.Context, s *slot) error {
	// A commit under way finishes when the run stops: what it took from
	// the partitions is in it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.TransactionTimeout())
	defer cancel()
	s.gate.Lock()
	defer s.gate.Unlock()
	if err := s.producer.Flush(ctx); err != nil {
		return err
	}
	if err := s.failure(); err != nil {
		return err
	}
	parts := r.slotParts(s)
	if r.pair != nil {
		r.decide(ctx, parts)
	}
	var items []progress.Pending
	for _, p := range parts {
		if it := p.pending(r.clusterID); !it.Empty() {
			items = append(items, it)
		}
	}
	for _, rec := range r.store.Records(r.Worker(), items).All() {
		s.producer.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				s.fail(fmt.Errorf("write progress: %w", err))
			}
		})
	}
	if err := s.producer.Flush(ctx); err != nil {
		return err
	}
	if err := s.failure(); err != nil {
		return err
	}
	if err := s.producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if len(items) > 0 {
		r.metrics.transactions.WithLabelValues(r.cfg.Source, r.cfg.Target, "committed").Inc()
	}
	for _, it := range items {
		if it.Mark != nil {
			if p := r.copier.partition(it.Partition); p != nil {
				p.commitAt(it.Mark.End)
			}
		}
	}
	return s.producer.BeginTransaction()
}

// commitAll commits every open slot's transaction, starts again the slots
// whose transaction failed, and opens the owned slots not open yet.
func (r *run) commitAll(ctx context.Context) error {
	r.slots.order.Lock()
	defer r.slots.order.Unlock()
	slots, errs := r.commitOpen(ctx)
	for i, s := range slots {
		if errs[i] != nil {
			r.log.Warn("a slot's transaction failed: it is aborted, and the slot's partitions copy again from what is committed",
				"slot", s.id, "err", errs[i])
			r.dropSlot(ctx, s, false)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(r.openOwned(ctx), r.growOpen(ctx))
}

// loseSlots gives up slots: with commit (they are handed to another
// worker), what they copied is committed first; without (the worker can no
// longer prove it owns them), their transactions are aborted. Either way
// their next owner fences them before it reads their progress.
func (r *run) loseSlots(ctx context.Context, ids []int32, commit bool) {
	r.slots.order.Lock()
	defer r.slots.order.Unlock()
	for _, id := range ids {
		s := r.slots.disown(id)
		if s == nil {
			continue
		}
		if err := r.dropSlot(ctx, s, commit); err != nil && ctx.Err() == nil {
			r.log.Warn("handing a slot over: its last transaction aborted; its next owner copies that again", "slot", id, "err", err)
		}
	}
}

// dropSlot stops copying the slot's partitions and closes its producer,
// committing first when asked, else aborting. r.slots.order is held.
func (r *run) dropSlot(ctx context.Context, s *slot, commit bool) error {
	// Best effort: the broker aborts a transaction anyway, at the next
	// owner's fencing or at the transaction timeout.
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.producer.AbortBufferedRecords(actx); err == nil {
			_ = s.producer.EndTransaction(actx, kgo.TryAbort)
		}
	}
	parts := r.slotParts(s)
	keys := make([]progress.Partition, len(parts))
	for i, p := range parts {
		keys[i] = p.key
	}
	if !commit {
		// A task blocked handing records to a full producer lets go.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = s.producer.AbortBufferedRecords(actx)
		cancel()
	}
	r.copier.unfetch(keys)
	var err error
	if commit {
		err = r.commit(ctx, s)
	}
	if !commit || err != nil {
		abort()
		r.metrics.transactions.WithLabelValues(r.cfg.Source, r.cfg.Target, "aborted").Inc()
	}
	s.producer.Close()
	r.copier.forget(keys)
	r.slots.closedSlot(s)
	return err
}

// commitSlotsOf commits the transactions of the slots of parts, which
// tasks no longer copy: their progress is then committed.
func (r *run) commitSlotsOf(ctx context.Context, parts []*partition) error {
	r.slots.order.Lock()
	defer r.slots.order.Unlock()
	seen := map[*slot]bool{}
	var errs []error
	for _, p := range parts {
		if s := p.slot; s != nil && !seen[s] {
			seen[s] = true
			if err := r.commit(ctx, s); err != nil {
				errs = append(errs, fmt.Errorf("slot %d: %w", s.id, err))
				r.dropSlot(ctx, s, false)
			}
		}
	}
	return errors.Join(errs...)
}

// stopSlots commits every open slot's transaction on a clean stop; the
// tasks stopped copying.
func (r *run) stopSlots(ctx context.Context) error {
	r.slots.order.Lock()
	defer r.slots.order.Unlock()
	slots, errs := r.commitOpen(ctx)
	for i, s := range slots {
		if errs[i] != nil {
			errs[i] = fmt.Errorf("slot %d: commit the last transaction: %w", s.id, errs[i])
		}
	}
	return errors.Join(errs...)
}

// commitOpen commits the open slots' transactions at once — each waits for
// its own producer and coordinator, and a slot's records for its commit —
// and returns the slots and each one's error. r.slots.order is held.
func (r *run) commitOpen(ctx context.Context) ([]*slot, []error) {
	slots := r.slots.list()
	errs := make([]error, len(slots))
	var wg sync.WaitGroup
	for i, s := range slots {
		wg.Go(func() { errs[i] = r.commit(ctx, s) })
	}
	wg.Wait()
	return slots, errs
}
