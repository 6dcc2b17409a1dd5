package config

import (
	"testing"
	"time"
)

func TestSetters(t *testing.T) {
	var i32 int32
	var n int
	var d time.Duration
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"int32 overflow", setNumber(&i32, "3000000000", 1), `"3000000000" is out of range`},
		{"below min", setNumber(&n, "0", 1), `"0" must be at least 1`},
		{"not a number", setNumber(&n, "1.5", 1), `"1.5" is not an integer`},
		{"negative millis", setMillis(&d, "-1"), `"-1" must not be negative`},
		{"zero seconds", setSeconds(&d, "0"), `"0" must be at least 1 second`},
	}
	for _, tt := range tests {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("%s: %v, want %q", tt.name, tt.err, tt.want)
		}
	}
	if err := setNumber(&i32, " 42 ", 1); err != nil || i32 != 42 {
		t.Errorf("setNumber(42) = %v, %d", err, i32)
	}
}
