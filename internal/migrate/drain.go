package migrate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
	"github.com/kmirror/kmirror/internal/progress"
)

// ErrTimeout is returned when the topics were not drained in time.
var ErrTimeout = errors.New("not drained before the timeout")

// DefaultQuietWindow is how long no producer may have written to the
// drained partitions before they count as drained.
const DefaultQuietWindow = 10 * time.Second

// DrainState is one look at the topics being drained.
type DrainState struct {
	// At is the time of the look.
	At time.Time `json:"time"`
	// Remaining is the number of source offsets not yet on the target;
	// Initial what remained at the first look.
	Remaining int64 `json:"remaining"`
	Initial   int64 `json:"initial"`
	// Partitions lists the partitions not yet drained, as "topic[p]".
	Partitions []string `json:"partitions"`
	// Written lists the partitions a producer still writes to (see
	// writers.go), sorted by cluster, topic and partition.
	Written []Written `json:"written"`
	// Quiet is how long the drain has seen no write to any partition;
	// Window how long it must be for the partitions to count as drained.
	Quiet  time.Duration `json:"-"`
	Window time.Duration `json:"-"`
	// Notes say what the drain cannot see: a broker that does not answer
	// one of its questions.
	Notes []string `json:"notes"`
}

// MarshalJSON writes the durations in seconds.
func (s DrainState) MarshalJSON() ([]byte, error) {
	type plain DrainState
	p := plain(s)
	if p.Partitions == nil {
		p.Partitions = []string{}
	}
	if p.Written == nil {
		p.Written = []Written{}
	}
	if p.Notes == nil {
		p.Notes = []string{}
	}
	return json.Marshal(struct {
		plain
		QuietSeconds  float64 `json:"quietSeconds"`
		WindowSeconds float64 `json:"windowSeconds"`
	}{p, s.Quiet.Seconds(), s.Window.Seconds()})
}

// Drained tells whether everything on the source is on the target and no
// producer has written to it for the quiet window.
func (s DrainState) Drained() bool {
	return s.Remaining == 0 && len(s.Partitions) == 0 && len(s.Written) == 0 && s.Quiet >= s.Window
}

// Drainer watches source topics until no producer writes to them and the
// mirror has copied everything on them.
type Drainer struct {
	cfg    *config.Config
	log    *slog.Logger
	window time.Duration
	topics map[*config.Flow][]string
	// sources are admin clients of each flow's source, kept for every look.
	sources map[*config.Flow]*kgo.Client
	// ends are the source ends of the last look; moved when each was last
	// seen moving (absent: not since the first look).
	ends    map[sourcePartition]int64
	moved   map[sourcePartition]time.Time
	started time.Time
	first   bool
	init    int64
}

type sourcePartition struct {
	cluster string
	topicPartition
}

// NewDrainer checks that every topic is mirrored by a flow of cfg: it
// connects to the sources and selects the topics as the mirror does. The
// topics count as drained once nothing has written to them for window
// (DefaultQuietWindow when 0). Close releases its clients.
func NewDrainer(ctx context.Context, cfg *config.Config, topics []string, window time.Duration, log *slog.Logger) (*Drainer, error) {
	if window <= 0 {
		window = DefaultQuietWindow
	}
	d := &Drainer{cfg: cfg, log: log, window: window, topics: map[*config.Flow][]string{}, sources: map[*config.Flow]*kgo.Client{},
		ends: map[sourcePartition]int64{}, moved: map[sourcePartition]time.Time{}, first: true}
	found := map[string]bool{}
	for _, f := range cfg.Flows {
		cl, err := kgo.NewClient(cluster.Options(cfg.Cluster(f.Source), log)...)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.sources[f] = cl
		sel, err := discover.Topics(ctx, cl, f)
		if err != nil {
			d.Close()
			return nil, err
		}
		for _, t := range sel.Topics {
			if slices.Contains(topics, t.Source) {
				d.topics[f] = append(d.topics[f], t.Source)
				found[t.Source] = true
			}
		}
	}
	var missing []string
	for _, t := range topics {
		if !found[t] {
			missing = append(missing, fmt.Sprintf("%q", t))
		}
	}
	if len(missing) > 0 {
		d.Close()
		return nil, fmt.Errorf("no flow mirrors topic %s: check the name and the topics pattern", strings.Join(missing, ", "))
	}
	// Without a worker nothing will copy what remains: say so now rather
	// than wait for the timeout.
	if err := requireWorkers(ctx, cfg, slices.Collect(maps.Keys(d.topics)), log); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the Drainer's clients.
func (d *Drainer) Close() {
	for _, cl := range d.sources {
		cl.Close()
	}
}

// Look compares the source ends of the topics with the stored progress,
// and asks the sources who still writes to them.
func (d *Drainer) Look(ctx context.Context) (DrainState, error) {
	now := time.Now()
	if d.first {
		d.started = now
	}
	st := DrainState{At: now, Window: d.window}
	quietSince := d.started
	for f, topics := range d.topics {
		adm := kadm.NewClient(d.sources[f])
		ends, err := adm.ListEndOffsets(ctx, topics...)
		var starts kadm.ListedOffsets
		if err == nil {
			starts, err = adm.ListStartOffsets(ctx, topics...)
		}
		if err != nil {
			return st, fmt.Errorf("list offsets of %q: %w", f.Source, err)
		}
		if err := ends.Error(); err != nil {
			return st, fmt.Errorf("end offsets on %q: %w", f.Source, err)
		}
		copied, err := progress.ReadNext(ctx, f, d.cfg.Cluster(f.Target), d.log)
		if err != nil {
			return st, err
		}
		looks := map[topicPartition]*partitionLook{}
		ends.Each(func(o kadm.ListedOffset) {
			looks[topicPartition{o.Topic, o.Partition}] = &partitionLook{end: o.Offset, stable: -1}
		})
		st.Notes = append(st.Notes, lookWriters(ctx, adm, f.Source, topics, looks)...)
		var ws []Written
		for tp, l := range looks {
			k := sourcePartition{f.Source, tp}
			// The first look cannot tell a move: the window starts
			// there (quietSince), not at a write.
			if prev, ok := d.ends[k]; ok && prev != l.end {
				d.moved[k] = now
			}
			d.ends[k] = l.end
			if w, ok := written(f.Source, tp.topic, tp.partition, *l, d.moved[k], now, d.window); ok {
				ws = append(ws, w)
			}
			if m := d.moved[k]; m.After(quietSince) {
				quietSince = m
			}
			next := int64(-1)
			if n, ok := copied[progress.Partition{Topic: tp.topic, Partition: tp.partition}]; ok {
				next = n
			}
			start := int64(0)
			if s, ok := starts.Lookup(tp.topic, tp.partition); ok && s.Err == nil {
				start = s.Offset
			}
			name := fmt.Sprintf("%s[%d]", tp.topic, tp.partition)
			switch {
			case next < 0 && l.end <= start:
				// Empty: nothing to drain.
			case next < 0:
				st.Partitions = append(st.Partitions, name+" (not mirrored yet)")
				st.Remaining += l.end - start
			case next < l.end:
				st.Partitions = append(st.Partitions, name)
				st.Remaining += l.end - next
			}
		}
		st.Notes = append(st.Notes, nameTransactions(ctx, adm, f.Source, ws)...)
		st.Written = append(st.Written, ws...)
	}
	for _, w := range st.Written {
		for _, p := range w.Producers {
			if p.LastWrite.After(quietSince) && !p.LastWrite.After(now) {
				quietSince = p.LastWrite
			}
		}
	}
	st.Quiet = now.Sub(quietSince)
	slices.Sort(st.Partitions)
	slices.SortFunc(st.Written, func(a, b Written) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	if d.first {
		d.first, d.init = false, st.Remaining
	}
	d.init = max(d.init, st.Remaining)
	st.Initial = d.init
	return st, nil
}

// Wait looks every interval until the topics are drained (nil), timeout
// passes (ErrTimeout) or ctx ends; see is told of every look.
func (d *Drainer) Wait(ctx context.Context, interval, timeout time.Duration, see func(DrainState)) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := d.Look(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// A failed look is worth a line, not the end of the wait.
			d.log.Warn("looking at the source ends failed; retrying", "err", err)
		} else {
			see(st)
			if st.Drained() {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return ErrTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
