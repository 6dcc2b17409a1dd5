package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/mirror"
	"github.com/kmirror/kmirror/internal/progress"
)

// ErrTimeout is returned when the topics were not drained in time.
var ErrTimeout = errors.New("not drained before the timeout")

// DrainState is one look at the topics being drained.
type DrainState struct {
	// Remaining is the number of source offsets not yet on the target;
	// Initial what remained at the first look.
	Remaining, Initial int64
	// Partitions lists the partitions not yet drained, as "topic[p]".
	Partitions []string
	// Moving lists the partitions whose source end moved since the last
	// look: a producer still writes to them.
	Moving []string
}

// Drained tells whether everything on the source is on the target.
func (s DrainState) Drained() bool { return s.Remaining == 0 && len(s.Partitions) == 0 }

// Drainer watches source topics until the mirror has copied everything on
// them.
type Drainer struct {
	cfg    *config.Config
	log    *slog.Logger
	topics map[*config.Flow][]string
	// sources are admin clients of each flow's source, kept for every look.
	sources map[*config.Flow]*kgo.Client
	ends    map[progress.Partition]int64
	first   bool
	init    int64
}

// NewDrainer checks that every topic is mirrored by a flow of cfg: it
// connects to the sources and selects the topics as the mirror does. Close
// releases its clients.
func NewDrainer(ctx context.Context, cfg *config.Config, topics []string, log *slog.Logger) (*Drainer, error) {
	d := &Drainer{cfg: cfg, log: log, topics: map[*config.Flow][]string{}, sources: map[*config.Flow]*kgo.Client{},
		ends: map[progress.Partition]int64{}, first: true}
	found := map[string]bool{}
	for _, f := range cfg.Flows {
		cl, err := kgo.NewClient(cluster.Options(cfg.Cluster(f.Source), log)...)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.sources[f] = cl
		sel, err := mirror.Discover(ctx, kadm.NewClient(cl), f)
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
	return d, nil
}

// Close closes the Drainer's clients.
func (d *Drainer) Close() {
	for _, cl := range d.sources {
		cl.Close()
	}
}

// Look compares the source ends of the topics with the stored progress.
func (d *Drainer) Look(ctx context.Context) (DrainState, error) {
	var st DrainState
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
		copied, err := progress.ReadNext(ctx, f, d.cfg.Cluster(f.Target), d.log)
		if err != nil {
			return st, err
		}
		var lerr error
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				lerr = fmt.Errorf("end offset of %s[%d] on %q: %w", o.Topic, o.Partition, f.Source, o.Err)
				return
			}
			k := progress.Partition{Topic: o.Topic, Partition: o.Partition}
			name := fmt.Sprintf("%s[%d]", o.Topic, o.Partition)
			// With the way back under the same names, the flow back
			// writes to this source too: a moving end says nothing.
			if prev, ok := d.ends[k]; ok && prev != o.Offset && d.cfg.Paired(f) == nil {
				st.Moving = append(st.Moving, name)
			}
			d.ends[k] = o.Offset
			next := int64(-1)
			if n, ok := copied[k]; ok {
				next = n
			}
			start := int64(0)
			if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Err == nil {
				start = s.Offset
			}
			switch {
			case next < 0 && o.Offset <= start:
				// Empty: nothing to drain.
			case next < 0:
				st.Partitions = append(st.Partitions, name+" (not mirrored yet)")
				st.Remaining += o.Offset - start
			case next < o.Offset:
				st.Partitions = append(st.Partitions, name)
				st.Remaining += o.Offset - next
			}
		})
		if lerr != nil {
			return st, lerr
		}
	}
	slices.Sort(st.Partitions)
	slices.Sort(st.Moving)
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
