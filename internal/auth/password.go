package auth

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// MinPasswordLength is the shortest password accepted, in characters.
const MinPasswordLength = 12

// maxPasswordBytes is where bcrypt stops reading: anything past it would
// be silently ignored, so a longer password is refused instead.
const maxPasswordBytes = 72

// commonPasswordList is a list of leaked passwords, most common first, one
// lower-cased password per line (COMMONPASSWORDS_NOTICE.md says where it
// comes from and under which licence).
//
//go:embed commonpasswords.txt
var commonPasswordList string

// commonPasswords is built on first use, so commands that never check a
// password do not pay for it. Only entries long enough to pass the length
// rule are kept: a shorter one can never match a password that reaches the
// list check, and leaving them out keeps the set small (a few hundred
// entries instead of about fifty thousand).
var commonPasswords = sync.OnceValue(loadCommonPasswords)

func loadCommonPasswords() map[string]struct{} {
	set := map[string]struct{}{}
	for line := range strings.Lines(commonPasswordList) {
		p := strings.TrimRight(line, "\r\n")
		if utf8.RuneCountInString(p) >= MinPasswordLength {
			set[strings.ToLower(p)] = struct{}{}
		}
	}
	return set
}

// CheckPassword applies the password policy: at least MinPasswordLength
// characters, at most 72 bytes, not one character repeated, and not in the
// embedded list of leaked passwords (compared case-insensitively, since
// changing the case of a leaked password is the first thing a guesser tries).
func CheckPassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordLength {
		return fmt.Errorf("%w: password must be at least %d characters", ErrInvalid, MinPasswordLength)
	}
	if len(p) > maxPasswordBytes {
		return fmt.Errorf("%w: password must be at most %d bytes", ErrInvalid, maxPasswordBytes)
	}
	if oneRepeated(p) {
		return fmt.Errorf("%w: password is one character repeated", ErrInvalid)
	}
	if _, ok := commonPasswords()[strings.ToLower(p)]; ok {
		return fmt.Errorf("%w: password is too common: it is in a list of leaked passwords", ErrInvalid)
	}
	return nil
}

// oneRepeated reports whether p is a single character over and over.
func oneRepeated(p string) bool {
	first, _ := utf8.DecodeRuneInString(p)
	return strings.Trim(p, string(first)) == ""
}
