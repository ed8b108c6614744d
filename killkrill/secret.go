package killkrill

import "github.com/rookery/rookery/secret"

// Masked is what every sensitive value turns into wherever it could be seen:
// logs, errors, JSON, fmt output.
const Masked = secret.Masked

// Secret holds a credential such as the KillKrill client secret. It is the
// one secret type of rookery (see package secret): every way of printing or
// encoding it yields [Masked]; only Reveal returns the value, for the one
// place that must send it over the wire.
type Secret = secret.Secret

// NewSecret wraps v.
func NewSecret(v string) Secret { return secret.New(v) }
