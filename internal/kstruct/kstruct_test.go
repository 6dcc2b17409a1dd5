package kstruct

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestWriterString(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		wantErr string
	}{
		{"empty", 0, ""},
		{"longest", math.MaxInt16, ""},
		{"one byte too long", math.MaxInt16 + 1, "string too long: 32768 bytes, at most 32767"},
		{"group id of 40000 bytes", 40000, "string too long: 40000 bytes, at most 32767"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := strings.Repeat("g", tt.n)
			var w Writer
			w.Int16(7)
			w.String(s)
			w.Int32(9)
			if tt.wantErr != "" {
				if w.Err == nil || w.Err.Error() != tt.wantErr || !errors.Is(w.Err, ErrLong) {
					t.Fatalf("Err = %v, want %q", w.Err, tt.wantErr)
				}
				// Nothing is written from the failed field on.
				if !bytes.Equal(w.B, []byte{0, 7}) {
					t.Fatalf("wrote %d bytes after the error: % x…", len(w.B), w.B[:min(len(w.B), 8)])
				}
				return
			}
			if w.Err != nil {
				t.Fatal(w.Err)
			}
			r := Reader{B: w.B}
			if a, got, b := r.Int16(), r.String(), r.Int32(); r.Done() != nil || a != 7 || got != s || b != 9 {
				t.Fatalf("read back %d, %d bytes, %d: %v", a, len(got), b, r.Done())
			}
		})
	}
}
