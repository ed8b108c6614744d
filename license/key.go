package license

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Key is a licence key of the shape PENG-XXXX-XXXX-XXXX-XXXX-XXXX.
//
// A Key follows the rules of package secret (see its documentation) with one
// difference: it prints as [MaskKey] gives it, the last group visible, so an
// operator can tell two keys apart. It prints masked through fmt with any
// verb, encoding/json, encoding.TextMarshaler and log/slog, so a struct
// holding one can be logged or serialised without leaking it. It stays a
// string type because the key travels as a plain string through the
// settings; for that reason never use a Key as a JSON map key (encoding/json
// writes string-kind map keys as they are). Use string(k) only where the
// clear value is required, which in this package is the Authorization
// header and the keepalive body sent to the licence server.
type Key string

// String returns the masked key (see [MaskKey]).
func (k Key) String() string { return MaskKey(string(k)) }

// GoString keeps %#v from printing the clear key.
func (k Key) GoString() string { return fmt.Sprintf("license.Key(%q)", MaskKey(string(k))) }

// Format prints the masked key for every verb and flag. Without it a verb
// that does not fit a string (%d) would make fmt print the clear key in its
// complaint.
func (k Key) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, k.GoString())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(MaskKey(string(k))))
	default:
		_, _ = io.WriteString(f, MaskKey(string(k)))
	}
}

// MarshalText returns the masked key, so JSON and other text encodings never
// carry the secret.
func (k Key) MarshalText() ([]byte, error) { return []byte(MaskKey(string(k))), nil }

// LogValue returns the masked key for log/slog.
func (k Key) LogValue() slog.Value { return slog.StringValue(MaskKey(string(k))) }

// Check reports whether k has the licence key shape; see [CheckKey].
func (k Key) Check() error { return CheckKey(string(k)) }

const (
	keyPrefix = "PENG"
	keyGroups = 5 // groups of four after the prefix
	keyLen    = len(keyPrefix) + keyGroups*5
)

// MaskKey returns a form of key that is safe to log or show: a well-formed
// key keeps only its last group (PENG-****-****-****-****-ABCD), anything else
// becomes "***SENSITIVE***" because its shape says nothing about what part of
// it is safe. The empty key stays empty.
func MaskKey(key string) string {
	switch {
	case key == "":
		return ""
	case validKeyShape(key):
		return "PENG-****-****-****-****-" + key[keyLen-4:]
	default:
		return "***SENSITIVE***"
	}
}

// CheckKey reports whether key has the shape of a licence key,
// ^PENG-[A-Z0-9]{4}(-[A-Z0-9]{4}){4}$. The last group is said to be a
// checksum but no rule for it is published, so only the shape is checked and
// the licence server judges the rest. The error wraps [ErrInvalidKey] and never
// contains the key.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("licence key is empty: %w", ErrInvalidKey)
	case validKeyShape(key):
		return nil
	case validKeyShape(strings.ToUpper(strings.TrimSpace(key))):
		return fmt.Errorf("%w (letters must be capitals and no spaces are allowed)", ErrInvalidKey)
	default:
		return ErrInvalidKey
	}
}

// validKeyShape is the key regular expression written out by hand: it is on
// the path of every request and a hand check cannot be misread.
func validKeyShape(s string) bool {
	if len(s) != keyLen || s[:len(keyPrefix)] != keyPrefix {
		return false
	}
	for i := len(keyPrefix); i < len(s); i++ {
		c := s[i]
		if (i-len(keyPrefix))%5 == 0 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
