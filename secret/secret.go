// Package secret holds the one type every rookery package uses for a
// credential: an API key, a client secret, a password, a token.
//
// The rules, the same in config, killkrill, waddleai and marchproxy (and
// followed by license.Key, which shows the last group of a licence key):
//
//   - Every way of printing a [Secret] gives [Masked]: fmt with any verb or
//     flag, String, GoString, encoding/json, encoding.TextMarshaler and
//     log/slog (text and JSON handlers). Errors that wrap a Secret with %v or
//     %s therefore never carry the value either.
//   - [Secret.Reveal] is the only way to the value, called at the one place
//     it is needed: a request header, a request body, a database driver.
//   - The zero value means "not set"; [Secret.IsZero] reports it.
//   - Decoding (JSON or text) stores the real value, so configuration and
//     response types can hold secrets without risking them in logs.
//   - Text that came from elsewhere and may echo a value back (an error body,
//     a driver message) goes through [Secret.Redact] before it is shown.
//
// One thing the type cannot do: a Secret held in an unexported field of a
// struct printed with %v is reached by reflection, which skips methods, so
// keep secrets in exported fields or do not print the struct.
package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Masked is what a secret prints as, everywhere.
const Masked = "***SENSITIVE***"

// quotedMask is Masked as a Go string literal, for %q and %#v.
var quotedMask = strconv.Quote(Masked)

// Secret holds a sensitive string. It is a struct rather than a string type
// because encoding/json writes a map key of string kind as it is, without
// asking MarshalText, and because no conversion can reach the value by
// accident.
type Secret struct{ v string }

// New wraps v.
func New(v string) Secret { return Secret{v} }

// Reveal returns the value. Call it only where the value is put to use.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no value is set.
func (s Secret) IsZero() bool { return s.v == "" }

// IsSet reports whether a value is set.
func (s Secret) IsSet() bool { return s.v != "" }

// String returns [Masked].
func (s Secret) String() string { return Masked }

// GoString returns [Masked] as a Go string literal, for %#v.
func (s Secret) GoString() string { return quotedMask }

// Format prints [Masked] for every verb and flag. Without it, verbs such as
// %d or %x would fall back to printing the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, quotedMask)
		return
	}
	_, _ = io.WriteString(f, Masked)
}

// MarshalJSON encodes [Masked].
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(quotedMask), nil }

// MarshalText encodes [Masked]; it also covers map keys and text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Masked), nil }

// UnmarshalText stores text as the value, so decoders of configuration files
// and environment variables can fill a Secret directly.
func (s *Secret) UnmarshalText(text []byte) error {
	s.v = string(text)
	return nil
}

// UnmarshalJSON stores a JSON string as the value (null leaves s as it is),
// so response types can hold the secrets a server sends back.
func (s *Secret) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var v string
	if err := json.Unmarshal(data, &v); err != nil {
		// Not wrapped: the decoder's message may quote the input, which may
		// be the secret.
		return errors.New("secret: a JSON string is required")
	}
	s.v = v
	return nil
}

// LogValue makes log/slog print [Masked].
func (s Secret) LogValue() slog.Value { return slog.StringValue(Masked) }

// Redact replaces every occurrence of the value in text with [Masked]. Very
// short values (under four bytes) are left alone: they would match ordinary
// text and hide it for no gain.
func (s Secret) Redact(text string) string {
	if len(s.v) < 4 {
		return text
	}
	return strings.ReplaceAll(text, s.v, Masked)
}
