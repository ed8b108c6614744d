package waddleai

import "github.com/rookery/rookery/secret"

// Secret holds a sensitive string such as the gateway API key. It is the one
// secret type of rookery (see package secret): it prints, logs and marshals
// as ***SENSITIVE***; use [Secret.Reveal] at the single place the real value
// is needed.
type Secret = secret.Secret

// NewSecret wraps v.
func NewSecret(v string) Secret { return secret.New(v) }
