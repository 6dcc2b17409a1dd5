package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A wait that runs out names what it waited for, how far it got and the
// last error of its check; one that quits says why.
func TestWait(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		w    wait
		cond func(context.Context) (bool, error)
		want []string // in the error; none: no error
	}{
		{name: "holds", w: wait{what: "x", within: time.Second},
			cond: func(context.Context) (bool, error) { return true, nil }},
		{name: "runs out", w: wait{what: "copy of t", within: 30 * time.Millisecond, progress: func() string { return "3 of 4" }},
			cond: func(context.Context) (bool, error) { return false, boom },
			want: []string{"no copy of t within 30ms", "3 of 4", "boom"}},
		{name: "blocking check", w: wait{what: "y", within: 30 * time.Millisecond},
			cond: func(ctx context.Context) (bool, error) { <-ctx.Done(); return false, ctx.Err() },
			want: []string{"no y within 30ms"}},
		{name: "quits", w: wait{what: "z", within: time.Minute, quit: func() error { return errors.New("it exited") }},
			cond: func(context.Context) (bool, error) { return false, nil },
			want: []string{"waiting for z: it exited"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.until(context.Background(), tt.cond)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
