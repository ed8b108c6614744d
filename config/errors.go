package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The errors of the store, mapped to HTTP codes in one place by the API.
var (
	ErrNotFound    = errors.New("configuration not found")
	ErrInvalid     = errors.New("invalid configuration value")
	ErrConflict    = errors.New("configuration was changed by someone else")
	ErrUnavailable = errors.New("configuration database unavailable")
)

// ValidationError says which key was refused and why, without the value.
type ValidationError struct {
	Key    string
	Reason string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s %s", e.Key, e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// ConflictError carries the current version so a client can show it.
type ConflictError struct {
	Key     string
	Current int64 // 0 when the key is not stored
}

func (e *ConflictError) Error() string {
	if e.Current == 0 {
		return fmt.Sprintf("%s: precondition failed: the key is not stored", e.Key)
	}
	return fmt.Sprintf("%s: precondition failed: the stored version is %d", e.Key, e.Current)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ErrUnreadable marks a stored value that cannot be decrypted with the
// configured keys (tampered, or sealed with a key no longer given).
var ErrUnreadable = errors.New("stored configuration value cannot be decrypted")

// UnreadableError refuses an operation that would need the value of a row
// that cannot be decrypted, or that would throw it away without being told
// to.
type UnreadableError struct {
	Key string
	// Op says what was refused ("delete", "rotate the encryption key").
	Op string
}

func (e *UnreadableError) Error() string {
	if e.Op == "delete" {
		return fmt.Sprintf("%s: the stored value cannot be decrypted with the configured keys; deleting it discards it for good: "+
			"confirm with --force (rookery config delete %s --force), or give the key it was sealed with in CONFIG_ENCRYPTION_OLD_KEYS", e.Key, e.Key)
	}
	return fmt.Sprintf("cannot %s: the stored value of %s cannot be decrypted with the configured keys; "+
		"give the key it was sealed with in CONFIG_ENCRYPTION_OLD_KEYS, or remove it with: rookery config delete %s --force", e.Op, e.Key, e.Key)
}

// Is makes errors.Is(err, ErrUnreadable) true.
func (e *UnreadableError) Is(target error) bool { return target == ErrUnreadable }

// ErrSecretReentry refuses a change of where a secret is sent while the
// secret is set, unless the same change gives the secret again.
var ErrSecretReentry = errors.New("secret re-entry required")

// SecretReentryError names the changed keys and the secrets that must be
// sent along with them (see Key.Carries).
type SecretReentryError struct {
	Changed []string // the keys that say where the secrets go, sorted
	Secrets []string // the secrets to give again, sorted
}

func (e *SecretReentryError) Error() string {
	return fmt.Sprintf("changing %s would send %s to a new place: give %s again in the same change",
		strings.Join(e.Changed, ", "), strings.Join(e.Secrets, ", "), strings.Join(e.Secrets, ", "))
}

// Is makes errors.Is(err, ErrSecretReentry) true.
func (e *SecretReentryError) Is(target error) bool { return target == ErrSecretReentry }

// BatchError lists every key of a batch that was refused, with the reason
// (never the value). Nothing of the batch was written.
type BatchError struct {
	Problems map[string]string
}

// Keys returns the refused keys, sorted.
func (e *BatchError) Keys() []string {
	out := make([]string, 0, len(e.Problems))
	for k := range e.Problems {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e *BatchError) Error() string {
	parts := make([]string, 0, len(e.Problems))
	for _, k := range e.Keys() {
		parts = append(parts, k+" "+e.Problems[k])
	}
	return "nothing was changed: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *BatchError) Is(target error) bool { return target == ErrInvalid }

// RevisionConflictError refuses a batch whose expected whole-config
// revision is no longer the current one.
type RevisionConflictError struct {
	Expected, Current int64
}

func (e *RevisionConflictError) Error() string {
	return fmt.Sprintf("precondition failed: the configuration is at revision %d, not %d", e.Current, e.Expected)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *RevisionConflictError) Is(target error) bool { return target == ErrConflict }
