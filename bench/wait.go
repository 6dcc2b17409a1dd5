package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// wait is one bounded wait of the harness: every wait for something
// another process does has a deadline, and fails naming what it waited for
// and how far it got, rather than hanging the run.
type wait struct {
	what   string // what is waited for, as in "no <what> within 1m"
	within time.Duration
	// progress says how far it got, for the error; nil says nothing.
	progress func() string
	// quit returns a reason to stop waiting at once (the process that was
	// to do the work exited); nil never quits.
	quit func() error
	// every is the time between two checks; 0 is 10 ms.
	every time.Duration
}

// until calls cond every w.every until it holds. cond gets a context that
// ends with the wait, so that a blocking check is bounded by it too. A
// failed check is retried; its last error is part of the wait's.
func (w wait) until(ctx context.Context, cond func(ctx context.Context) (bool, error)) error {
	wctx, cancel := context.WithTimeout(ctx, w.within)
	defer cancel()
	every := w.every
	if every == 0 {
		every = 10 * time.Millisecond
	}
	var last error
	for {
		ok, err := cond(wctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if w.quit != nil {
			if err := w.quit(); err != nil {
				return fmt.Errorf("waiting for %s: %w", w.what, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if wctx.Err() != nil {
			msg := fmt.Sprintf("no %s within %s", w.what, w.within)
			if w.progress != nil {
				msg += ": " + w.progress()
			}
			if last != nil {
				msg += fmt.Sprintf(" (last error: %v)", last)
			}
			return errors.New(msg)
		}
		select {
		case <-wctx.Done():
		case <-time.After(every):
		}
	}
}
