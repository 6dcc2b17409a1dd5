package config

import "log/slog"

// Redacted is what a secret prints as, everywhere.
const Redacted = "***"

// Secret holds a password or private key. Every way of printing it shows
// Redacted; only Reveal gives the value, for the code that authenticates.
type Secret struct{ v string }

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no secret was given.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string               { return Redacted }
func (s Secret) GoString() string             { return Redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(Redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
