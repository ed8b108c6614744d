package killkrill

import (
	"fmt"
	"io"
	"log/slog"
)

// Masked is what every sensitive value turns into wherever it could be seen:
// logs, errors, JSON, fmt output.
const Masked = "***SENSITIVE***"

// Secret holds a credential such as the KillKrill client secret. Every way of
// printing or encoding it yields [Masked]; only Reveal returns the value, for
// the one place that must send it over the wire.
//
// It is a struct with an unexported field rather than a string type so that a
// plain conversion or reflection-based printer cannot reach the value by
// accident.
type Secret struct{ value string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the wrapped value. Call it only to put the value on the wire.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether no value is set.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns [Masked].
func (s Secret) String() string { return Masked }

// GoString returns a masked Go-syntax form, for %#v.
func (s Secret) GoString() string { return "killkrill.Secret(" + Masked + ")" }

// Format masks the value for every verb and flag, including ones (%d, %x)
// that would otherwise reach the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, Masked)
}

// MarshalJSON encodes the masked form.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Masked + `"`), nil }

// MarshalText encodes the masked form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Masked), nil }

// UnmarshalText stores text as the secret, so configuration decoders can
// fill a Secret directly.
func (s *Secret) UnmarshalText(text []byte) error {
	s.value = string(text)
	return nil
}

// LogValue makes slog print the masked form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Masked) }
