package auth

import "fmt"

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// CheckPassword applies the password policy.
func CheckPassword(p string) error {
	if len(p) < MinPasswordLength {
		return fmt.Errorf("%w: password must be at least %d characters", ErrInvalid, MinPasswordLength)
	}
	if len(p) > 72 {
		return fmt.Errorf("%w: password must be at most 72 bytes", ErrInvalid)
	}
	return nil
}
