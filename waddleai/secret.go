package waddleai

import (
	"log/slog"
	"strings"
)

// masked is what every secret prints as.
const masked = "***SENSITIVE***"

// Secret holds a sensitive string such as the gateway API key. It prints,
// logs and marshals as ***SENSITIVE***; use [Secret.Reveal] at the single place
// the real value is needed.
type Secret string

// String returns the mask, never the value.
func (s Secret) String() string { return masked }

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return masked }

// LogValue keeps log/slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(masked) }

// MarshalJSON keeps encoding/json from printing the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + masked + `"`), nil }

// MarshalText keeps text encoders (and map keys) from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(masked), nil }

// IsSet reports whether a value is present.
func (s Secret) IsSet() bool { return s != "" }

// Reveal returns the real value.
func (s Secret) Reveal() string { return string(s) }

// redact removes every occurrence of the secret from text that came from
// somewhere we do not control (an error body could echo the key back).
func (s Secret) redact(text string) string {
	// Very short values would match ordinary text and hide it for no gain.
	if len(s) < 4 {
		return text
	}
	return strings.ReplaceAll(text, string(s), masked)
}
