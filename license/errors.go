package license

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of them, so test
// with errors.Is; the [*Error] that carries them adds the HTTP status and the
// server's explanation.
var (
	// ErrUnavailable means the licence server could not give an answer: a
	// transport error, a timeout, HTTP 408, 429 or 5xx, or an unreadable
	// reply. The last good result (or the cache) stays in force.
	ErrUnavailable = errors.New("licence server unavailable")

	// ErrRejected means the licence server answered that the licence is not
	// valid: any other non-2xx status, or a 200 carrying "valid": false.
	// A cached result never rescues a rejected licence.
	ErrRejected = errors.New("licence rejected by the licence server")

	// ErrInvalidKey means the key does not have the licence key shape. It is
	// detected before any request is made.
	ErrInvalidKey = errors.New("invalid licence key: expected the shape PENG-XXXX-XXXX-XXXX-XXXX-XXXX where each X is a letter A-Z or a digit 0-9")

	// ErrExpired means the licence's expires_at has passed.
	ErrExpired = errors.New("licence expired")

	// ErrKeyRequired is returned by [Manager.Start] when enforcement is on and
	// no key is configured.
	ErrKeyRequired = errors.New("LICENSE_KEY is required when RELEASE_MODE=true")
)

// Error describes a failed exchange with the licence server. Kind is one of
// the sentinel errors above; errors.Is(err, ErrUnavailable) and friends see
// through it. It never contains the licence key.
type Error struct {
	Op         string // "validate", "features" or "keepalive"
	Kind       error  // ErrUnavailable, ErrRejected, ErrInvalidKey or ErrExpired
	StatusCode int    // HTTP status, 0 when no response was received
	Message    string // the server's explanation, cleaned to one short line
	Err        error  // the underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(" licence: ")
	if e.Err != nil && errors.Is(e.Err, e.Kind) {
		// The cause already says what kind of failure it is (a key check).
		b.WriteString(e.Err.Error())
		return b.String()
	}
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	}
	switch {
	case e.StatusCode != 0 && e.Message != "":
		fmt.Fprintf(&b, " (HTTP %d: %s)", e.StatusCode, e.Message)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	case e.Message != "":
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// oneLine wraps an error whose text must fit on one line, such as the reason
// a server gives when it refuses to start.
type oneLine struct{ err error }

func (e oneLine) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }
func (e oneLine) Unwrap() error { return e.err }
