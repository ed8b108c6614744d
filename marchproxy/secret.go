package marchproxy

import "github.com/rookery/rookery/secret"

// Masked is what a secret looks like wherever it is printed.
const Masked = secret.Masked

// Secret holds a password, token or API key. It is the one secret type of
// rookery (see package secret): every way of printing it (fmt verbs, JSON,
// slog) shows Masked; call Reveal to get the value for the one place that
// really needs it, the wire.
//
// Decoding JSON into a Secret keeps the real value, so response types can hold
// the server's secrets without risking them in logs.
type Secret = secret.Secret

// NewSecret wraps v.
func NewSecret(v string) Secret { return secret.New(v) }
