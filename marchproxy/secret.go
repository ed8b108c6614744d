package marchproxy

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Masked is what a secret looks like wherever it is printed.
const Masked = "***SENSITIVE***"

// Secret holds a password, token or API key. Every way of printing it
// (fmt verbs, JSON, slog) shows Masked; call Reveal to get the value for the
// one place that really needs it, the wire.
//
// Decoding JSON into a Secret keeps the real value, so response types can hold
// the server's secrets without risking them in logs.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

func (s Secret) String() string { return Masked }

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(Masked) }

// Format covers every fmt verb, including the ones (%d, %x on a string kind)
// that would otherwise fall back to printing the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(Masked))
		return
	}
	_, _ = io.WriteString(f, Masked)
}

// MarshalJSON writes the masked form; an empty secret stays empty so that
// "not set" remains visible.
func (s Secret) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte(`""`), nil
	}
	return json.Marshal(Masked)
}

// LogValue masks the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Masked) }
