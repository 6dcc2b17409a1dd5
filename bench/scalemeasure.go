package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// idle measures a process at rest: the cores it uses over d, and its
// memory at the end.
func idle(ctx context.Context, p *proc, d time.Duration) (float64, memory, error) {
	pid := p.cmd.Process.Pid
	u0, _ := usageOf(pid)
	if err := sleep(ctx, d); err != nil {
		return 0, memory{}, err
	}
	u1, ok := usageOf(pid)
	if err := p.exitErr(); err != nil {
		return 0, memory{}, err
	}
	mem, _ := memoryOf(pid)
	if !ok {
		return 0, memory{}, errors.New("the scale mode reads kmirror's CPU and memory from /proc: run it on Linux")
	}
	return (u1.CPU - u0.CPU).Seconds() / d.Seconds(), mem, nil
}

// timeReads times what reads kmirror's state: kmirror status --json,
// kmirror migrate ready for the first group, and GET /api/v1/status on
// the worker's address.
func timeReads(ctx context.Context, o options, bin, cfg, addr string, shape scaleShape, row *scaleRow) error {
	var err error
	if row.status, _, err = timeCommand(ctx, bin, "status", "-c", cfg, "--json"); err != nil {
		return err
	}
	o.logf("    status %.2f s", row.status.Seconds())
	if groups := shape.groupNames(); len(groups) > 0 {
		if row.ready, row.readyExit, err = timeCommand(ctx, bin, "migrate", "ready", "-c", cfg, "--group", groups[0]); err != nil {
			return err
		}
		o.logf("    migrate ready %.2f s (exit %d)", row.ready.Seconds(), row.readyExit)
	}
	if err := statusAPI(ctx, "http://"+addr+"/api/v1/status", row); err != nil {
		return err
	}
	o.logf("    /api/v1/status %.3f s, %d B (with gzip asked: %d B)", row.api.Seconds(), row.apiPlain, row.apiGzip)
	return nil
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// timeCommand runs kmirror with args scaleTimings times and returns the
// median time it took end to end, and its exit code: 0, or 1 (a verdict
// of migrate ready: not ready); any other ends the run.
func timeCommand(ctx context.Context, bin string, args ...string) (time.Duration, int, error) {
	var took []time.Duration
	code := 0
	for range scaleTimings {
		cctx, cancel := context.WithTimeout(ctx, commandWithin)
		cmd := exec.CommandContext(cctx, bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		err := cmd.Run()
		took = append(took, time.Since(t0))
		timedOut := cctx.Err() != nil && ctx.Err() == nil
		cancel()
		code = -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
		var exit *exec.ExitError
		switch {
		case timedOut:
			return 0, 0, fmt.Errorf("kmirror %s did not end within %s:\n%s", strings.Join(args, " "), commandWithin, out.Bytes())
		case err == nil, errors.As(err, &exit) && code == 1 && args[0] == "migrate":
		default:
			return 0, 0, fmt.Errorf("kmirror %s: %w:\n%s", strings.Join(args, " "), err, out.Bytes())
		}
	}
	return quantile(took, 0.5), code, nil
}

// statusAPI measures GET url: the median time of scaleTimings requests and
// the body's size, then its size when gzip is asked for.
func statusAPI(ctx context.Context, url string, row *scaleRow) error {
	// DisableCompression: the body is counted as sent.
	hc := &http.Client{Timeout: commandWithin, Transport: &http.Transport{DisableCompression: true}}
	defer hc.CloseIdleConnections()
	get := func(gzip bool) (time.Duration, int, bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, 0, false, err
		}
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, 0, false, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		took := time.Since(t0)
		if err != nil {
			return 0, 0, false, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, false, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return took, int(n), resp.Header.Get("Content-Encoding") == "gzip", nil
	}
	var took []time.Duration
	for range scaleTimings {
		d, n, _, err := get(false)
		if err != nil {
			return err
		}
		took, row.apiPlain = append(took, d), n
	}
	row.api = quantile(took, 0.5)
	var err error
	_, row.apiGzip, row.gzipped, err = get(true)
	return err
}

// scaleSyncDelay measures, -sync-samples times, how long a source group's
// new commit takes to reach the target group: a record more on each of the
// group's partitions, copied; a commit of their new ends at a random phase
// of the sync interval; the time until the target group holds them. The
// groups sampled are spread over all of them.
func scaleSyncDelay(ctx context.Context, o options, scl *kgo.Client, sadm, tadm *kadm.Client, km *proc, shape scaleShape, row *scaleRow) error {
	groups := shape.groupNames()
	for i := range o.syncSamples {
		group := groups[i*len(groups)/o.syncSamples]
		tps := shape.groups[group]
		var recs []*kgo.Record
		for _, tp := range tps {
			recs = append(recs, &kgo.Record{Topic: tp.topic, Partition: tp.partition, Value: []byte("sync")})
		}
		if err := produceTo(ctx, scl, recs); err != nil {
			return err
		}
		at := offsets{}
		for _, r := range recs {
			at.set(r.Topic, r.Partition, r.Offset+1)
		}
		if err := waitScaleCopied(ctx, tadm, km, at); err != nil {
			return err
		}
		if err := sleep(ctx, rand.N(syncInterval)); err != nil {
			return err
		}
		if err := commitAt(ctx, sadm, group, tps, at); err != nil {
			return fmt.Errorf("commit group %s on the source: %w", group, err)
		}
		t0 := time.Now()
		w := wait{what: "offsets of group " + group + " on the target", within: syncNever, quit: km.exitErr}
		err := w.until(ctx, func(ctx context.Context) (bool, error) {
			r, err := tadm.FetchOffsets(ctx, group)
			if err != nil {
				return false, err
			}
			return holds(r, tps, at), nil
		})
		switch {
		case err == nil:
			row.sync = append(row.sync, time.Since(t0))
		case ctx.Err() != nil || km.exitErr() != nil:
			return err
		default:
			o.logf("    %v", err)
			row.never++
		}
	}
	return nil
}
