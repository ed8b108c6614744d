package config

import (
	"fmt"
	"log/slog"
)

// Masked is what a sensitive value looks like everywhere outside the
// process that uses it.
const Masked = "***SENSITIVE***"

// Secret holds a sensitive value. Printing, marshalling or logging it shows
// Masked; only Reveal gives the text.
type Secret struct{ v string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v} }

// Reveal returns the plaintext. Call it only where the value is used.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string               { return Masked }
func (s Secret) GoString() string             { return Masked }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(Masked) }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Masked + `"`), nil }
func (s Secret) MarshalText() ([]byte, error) { return []byte(Masked), nil }

// Format makes every verb (%v, %s, %q, %x, %#v) print the mask.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Masked)) }
