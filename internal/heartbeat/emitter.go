package heartbeat

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/policy"
)

// Emitter writes a heartbeat for one flow to the target's heartbeats topic
// on every interval.
type Emitter struct {
	cfg *config.Flow
	cl  *kgo.Client
	adm *kadm.Client
	log *slog.Logger

	mu   sync.Mutex
	last time.Time     // when the last heartbeat was acknowledged
	rtt  time.Duration // how long it took

	metrics *Metrics
}

// NewEmitter prepares an emitter writing with cl to the flow's target and
// counting into metrics; with nil metrics it counts into a set registered
// nowhere.
func NewEmitter(f *config.Flow, cl *kgo.Client, logger *slog.Logger, metrics *Metrics) *Emitter {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Emitter{cfg: f, cl: cl, adm: kadm.NewClient(cl), log: logger.With("component", "heartbeat", "flow", f.Name()), metrics: metrics}
}

// Run emits until ctx ends, if emit.heartbeats.enabled.
func (e *Emitter) Run(ctx context.Context) error {
	if !e.cfg.EmitHeartbeats {
		return nil
	}
	if err := cluster.EnsureInternalTopic(ctx, e.adm, e.cfg.InternalTopic(config.InternalHeartbeats)); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	tick := time.NewTicker(e.cfg.EmitHeartbeatsInterval)
	defer tick.Stop()
	for {
		if err := e.emit(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("heartbeat failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (e *Emitter) emit(ctx context.Context) error {
	sent := time.Now()
	key, value, err := Record{Source: e.cfg.Source, Target: e.cfg.Target, Timestamp: sent}.Encode()
	if err != nil {
		return err
	}
	if err := e.cl.ProduceSync(ctx, &kgo.Record{Topic: policy.HeartbeatsTopic, Key: key, Value: value, Timestamp: sent}).FirstErr(); err != nil {
		return fmt.Errorf("write a heartbeat to %q: %w", e.cfg.Target, err)
	}
	now := time.Now()
	e.mu.Lock()
	e.last, e.rtt = now, now.Sub(sent)
	e.mu.Unlock()
	e.metrics.rtt.WithLabelValues(e.cfg.Source, e.cfg.Target).Observe(now.Sub(sent).Seconds())
	e.metrics.last.WithLabelValues(e.cfg.Source, e.cfg.Target).Set(float64(now.UnixNano()) / 1e9)
	return nil
}

// Last returns when the last heartbeat was acknowledged by the target and
// how long that took; zero before the first.
func (e *Emitter) Last() (time.Time, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last, e.rtt
}
