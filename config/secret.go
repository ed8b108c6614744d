package config

import "github.com/rookery/rookery/secret"

// Masked is what a sensitive value looks like everywhere outside the
// process that uses it.
const Masked = secret.Masked

// Secret holds a sensitive value: the one type every rookery package uses
// (see package secret for the rules). Printing, marshalling or logging it
// shows Masked; only Reveal gives the text.
type Secret = secret.Secret

// NewSecret wraps v.
func NewSecret(v string) Secret { return secret.New(v) }
