package license

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Outcome says what a licence check did.
type Outcome string

// The outcomes of [Manager.Check].
const (
	// OutcomeNoKey: enforcement is on and no key is set; nothing was asked.
	OutcomeNoKey Outcome = "no_key"
	// OutcomeDevelopment: development mode without a key; nothing was
	// asked and every feature is on.
	OutcomeDevelopment Outcome = "development"
	// OutcomeValid: the server confirmed the licence just now.
	OutcomeValid Outcome = "valid"
	// OutcomeRefused: the server said the licence is not valid (refused or
	// expired), or the key has the wrong shape and was not sent.
	OutcomeRefused Outcome = "refused"
	// OutcomeUnreachable: the server gave no answer; a cached result may
	// stand in for it (CheckResult.LastConfirmed says from when).
	OutcomeUnreachable Outcome = "unreachable"
)

// CheckResult is what [Manager.Check] did, for people and APIs.
type CheckResult struct {
	Outcome Outcome
	// Message is a sentence saying what happened and what is in force now.
	Message string
	// CheckedAt is when the server was asked; zero when it was not.
	CheckedAt time.Time
	// LastConfirmed is when the server last confirmed the licence in
	// force (live or from the cache); zero when none is.
	LastConfirmed time.Time
	// Err is the failure, for a technical detail; nil when none.
	Err error
}

// Check validates the licence now, as Refresh does, and reports what
// happened: nothing to check, confirmed, refused, or no answer and what
// stands in for it. It never reports a confirmation that did not happen.
func (m *Manager) Check(ctx context.Context) CheckResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.settings
	err := m.validateLocked(ctx)
	r := CheckResult{Err: err}
	if m.view.valid {
		r.LastConfirmed = m.view.validatedAt
	}
	if s.Key != "" && asked(err) && ctx.Err() == nil {
		r.CheckedAt = m.view.lastChecked
	}
	enforced := "Licensed features are off until a valid licence is in force."
	if !s.ReleaseMode {
		enforced = "Development mode keeps every feature on whatever the answer."
	}
	switch {
	case s.Key == "" && !s.ReleaseMode:
		r.Outcome = OutcomeDevelopment
		r.Message = "Development mode: no licence key is set, so nothing was checked. Every feature is on and nothing is enforced."
	case s.Key == "":
		r.Outcome = OutcomeNoKey
		r.Message = "No licence key is set, so nothing was checked. Set license_key to use a licence."
	case err == nil:
		r.Outcome = OutcomeValid
		r.Message = "The licence server confirmed the licence just now."
	case errors.Is(err, ErrUnavailable):
		r.Outcome = OutcomeUnreachable
		if m.view.source == SourceCached {
			r.Message = fmt.Sprintf("The licence server could not be reached, so nothing was confirmed. The licence it last confirmed on %s stays in force from the cache.",
				r.LastConfirmed.UTC().Format("2 January 2006 at 15:04 UTC"))
		} else {
			r.Message = "The licence server could not be reached, and no cached confirmation can stand in for it. " + enforced
		}
	case errors.Is(err, ErrExpired):
		r.Outcome = OutcomeRefused
		r.Message = "The licence server says the licence has expired. " + enforced
	case errors.Is(err, ErrRejected):
		r.Outcome = OutcomeRefused
		r.Message = "The licence server refused the licence" + serverReason(err) + ". " + enforced
	case errors.Is(err, ErrInvalidKey):
		r.Outcome = OutcomeRefused
		r.Message = "The licence key does not have the shape PENG-XXXX-XXXX-XXXX-XXXX-XXXX, so it was not sent to the licence server. " + enforced
	default:
		r.Outcome = OutcomeRefused
		r.Message = "The licence could not be checked: " + strings.TrimSuffix(err.Error(), ".") + ". " + enforced
	}
	return r
}

// serverReason is the server's explanation of a refusal as a clause, or "".
func serverReason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return " (" + strings.TrimSuffix(e.Message, ".") + ")"
	}
	return ""
}
