package config

import (
	"errors"
	"fmt"
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
