package license

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Source says where the entitlement state came from.
type Source string

// The sources of entitlement state.
const (
	// SourceLive: validated by the licence server by this process.
	SourceLive Source = "live"
	// SourceCached: the server could not be reached; the last good result
	// (in memory or from the cache file) stands in for it.
	SourceCached Source = "cached"
	// SourceDevelopment: RELEASE_MODE=false, nothing is enforced.
	SourceDevelopment Source = "development"
	// SourceNone: enforcement is on and there is no valid licence.
	SourceNone Source = "none"
)

// Status is a report of the licence state for people and APIs. It describes
// what the licence server said (Tier, Features, Limits) even in development
// mode, where the gating methods allow everything. It never holds the key.
//
// Its JSON form is stable: every field is always present, missing times are
// null, features is [] and limits is {} when empty.
type Status struct {
	Tier          Tier
	Customer      string
	Product       string
	ExpiresAt     time.Time // zero: unknown or no expiry
	IssuedAt      time.Time
	Features      []string // entitled features as the server named them, sorted
	Limits        map[string]int64
	Source        Source
	Valid         bool
	ReleaseMode   bool
	LastValidated time.Time // when the result in force was obtained from the server
	LastKeepalive time.Time
	// LastChecked is when this process last asked the server to validate
	// the licence and the attempt ended, whatever the answer; zero when it
	// never has (no key, or a key of the wrong shape).
	LastChecked time.Time
	LastError   string
	ServerID    string
	ServerURL   string
	KeyMasked   string
}

// StatusJSON is the JSON form of Status, what MarshalJSON writes and
// UnmarshalJSON reads: times as RFC 3339 or null, features and limits
// never null. API documents describe a Status with it.
type StatusJSON struct {
	Tier          Tier             `json:"tier"`
	Customer      string           `json:"customer"`
	Product       string           `json:"product"`
	ExpiresAt     *time.Time       `json:"expires_at"`
	IssuedAt      *time.Time       `json:"issued_at"`
	Features      []string         `json:"features" openapi:"nonnull"`
	Limits        map[string]int64 `json:"limits" openapi:"nonnull"`
	Source        Source           `json:"source"`
	Valid         bool             `json:"valid"`
	ReleaseMode   bool             `json:"release_mode"`
	LastValidated *time.Time       `json:"last_validated"`
	LastKeepalive *time.Time       `json:"last_keepalive"`
	LastChecked   *time.Time       `json:"last_checked"`
	LastError     string           `json:"last_error"`
	ServerID      string           `json:"server_id"`
	ServerURL     string           `json:"server_url"`
	KeyMasked     string           `json:"key_masked"`
}

// MarshalJSON writes the stable JSON form.
func (s Status) MarshalJSON() ([]byte, error) {
	w := StatusJSON{
		Tier:          s.Tier,
		Customer:      s.Customer,
		Product:       s.Product,
		ExpiresAt:     timePtr(s.ExpiresAt),
		IssuedAt:      timePtr(s.IssuedAt),
		Features:      s.Features,
		Limits:        s.Limits,
		Source:        s.Source,
		Valid:         s.Valid,
		ReleaseMode:   s.ReleaseMode,
		LastValidated: timePtr(s.LastValidated),
		LastKeepalive: timePtr(s.LastKeepalive),
		LastChecked:   timePtr(s.LastChecked),
		LastError:     s.LastError,
		ServerID:      s.ServerID,
		ServerURL:     s.ServerURL,
		KeyMasked:     s.KeyMasked,
	}
	if w.Features == nil {
		w.Features = []string{}
	}
	if w.Limits == nil {
		w.Limits = map[string]int64{}
	}
	if w.Source == "" {
		w.Source = SourceNone
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the form written by MarshalJSON, so a client of the
// rookery API can decode a status.
func (s *Status) UnmarshalJSON(b []byte) error {
	var w StatusJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Status{
		Tier:          w.Tier,
		Customer:      w.Customer,
		Product:       w.Product,
		ExpiresAt:     timeVal(w.ExpiresAt),
		IssuedAt:      timeVal(w.IssuedAt),
		Features:      w.Features,
		Limits:        w.Limits,
		Source:        w.Source,
		Valid:         w.Valid,
		ReleaseMode:   w.ReleaseMode,
		LastValidated: timeVal(w.LastValidated),
		LastKeepalive: timeVal(w.LastKeepalive),
		LastChecked:   timeVal(w.LastChecked),
		LastError:     w.LastError,
		ServerID:      w.ServerID,
		ServerURL:     w.ServerURL,
		KeyMasked:     w.KeyMasked,
	}
	return nil
}

// clone returns a copy that shares nothing mutable with s.
func (s Status) clone() Status {
	s.Features = slices.Clone(s.Features)
	s.Limits = maps.Clone(s.Limits)
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func timeVal(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
