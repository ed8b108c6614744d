package license

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"sort"
	"strings"
	"time"
)

// Validation is the licence server's answer to /api/v2/validate.
//
// The server echoes the licence key in its answer; Validation deliberately has
// no field for it, so a Validation can be cached, logged or serialised safely.
type Validation struct {
	// Valid is set only by server versions that send "valid". A 200 answer
	// is a valid licence unless Valid is present and false.
	Valid   *bool
	Message string

	Customer       string
	Product        string
	LicenseVersion string
	Tier           Tier
	ExpiresAt      time.Time // zero when the server sent none
	IssuedAt       time.Time // zero when the server sent none
	Features       []Feature
	Limits         Limits
	Metadata       Metadata
}

// Metadata is the "metadata" object of a validation. ServerID must be sent
// back with every keepalive.
type Metadata struct {
	ServerID     string         `json:"server_id"`
	SupportTier  string         `json:"support_tier,omitempty"`
	CustomFields map[string]any `json:"custom_fields,omitempty"`
}

// validationWire is the JSON shape of a validation, used both to read the
// server's answer and to write the cache file.
type validationWire struct {
	Valid          *bool     `json:"valid,omitempty"`
	Message        string    `json:"message,omitempty"`
	Customer       string    `json:"customer"`
	Product        string    `json:"product"`
	LicenseVersion string    `json:"license_version,omitempty"`
	Tier           string    `json:"tier"`
	ExpiresAt      *string   `json:"expires_at"`
	IssuedAt       *string   `json:"issued_at"`
	Features       []Feature `json:"features"`
	Limits         Limits    `json:"limits"`
	Metadata       Metadata  `json:"metadata"`
}

// UnmarshalJSON reads the server's validation object. Unknown fields are
// ignored and timestamps are accepted in the layouts servers are seen to use.
func (v *Validation) UnmarshalJSON(b []byte) error {
	var w validationWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	expires, err := parseTime(w.ExpiresAt)
	if err != nil {
		return fmt.Errorf("expires_at: %w", err)
	}
	issued, err := parseTime(w.IssuedAt)
	if err != nil {
		return fmt.Errorf("issued_at: %w", err)
	}
	*v = Validation{
		Valid:          w.Valid,
		Message:        w.Message,
		Customer:       w.Customer,
		Product:        w.Product,
		LicenseVersion: w.LicenseVersion,
		Tier:           ParseTier(w.Tier),
		ExpiresAt:      expires,
		IssuedAt:       issued,
		Features:       w.Features,
		Limits:         w.Limits,
		Metadata:       w.Metadata,
	}
	return nil
}

// MarshalJSON writes the validation in the server's shape (without the key).
func (v Validation) MarshalJSON() ([]byte, error) {
	w := validationWire{
		Valid:          v.Valid,
		Message:        v.Message,
		Customer:       v.Customer,
		Product:        v.Product,
		LicenseVersion: v.LicenseVersion,
		Tier:           v.Tier.String(),
		ExpiresAt:      formatTime(v.ExpiresAt),
		IssuedAt:       formatTime(v.IssuedAt),
		Features:       v.Features,
		Limits:         v.Limits,
		Metadata:       v.Metadata,
	}
	if w.Features == nil {
		w.Features = []Feature{}
	}
	return json.Marshal(w)
}

// timeLayouts are tried in order. Servers written in Python often send
// datetime.isoformat() without a zone; such times are taken as UTC.
var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func parseTime(s *string) (time.Time, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return time.Time{}, nil
	}
	v := strings.TrimSpace(*s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", truncate(v, 40))
}

func formatTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// Feature is one entry of a validation's feature list.
type Feature struct {
	Name     string `json:"name"`
	Entitled bool   `json:"entitled"`
	// Units is 0 for unlimited and -1 when not applicable; a missing
	// "units" reads as -1.
	Units       int64          `json:"units"`
	Description string         `json:"description,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// UnmarshalJSON reads a feature object. A bare string is accepted too, as
// the integration standards show feature lists as names; a name listed that
// way is entitled. An object without "entitled" is not entitled: guessing in
// favour of a feature nobody confirmed is the wrong way to fail.
func (f *Feature) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var name string
		if err := json.Unmarshal(b, &name); err != nil {
			return err
		}
		*f = Feature{Name: name, Entitled: true, Units: -1}
		return nil
	}
	var w struct {
		Name        string         `json:"name"`
		Entitled    bool           `json:"entitled"`
		Units       *float64       `json:"units"`
		Description string         `json:"description"`
		Metadata    map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	units := int64(-1)
	if w.Units != nil {
		units = clampInt(*w.Units)
	}
	*f = Feature{Name: w.Name, Entitled: w.Entitled, Units: units, Description: w.Description, Metadata: w.Metadata}
	return nil
}

// Limits are the numeric limits of a licence, such as max_users. A negative
// value (the server sends -1) means unlimited. Limits is immutable.
type Limits struct {
	m map[string]int64
}

// Unlimited is the limit value the licence server uses for "no limit".
const Unlimited int64 = -1

// NewLimits returns Limits holding a copy of m.
func NewLimits(m map[string]int64) Limits {
	if len(m) == 0 {
		return Limits{}
	}
	return Limits{m: maps.Clone(m)}
}

// Get returns the named limit and whether the licence states it.
func (l Limits) Get(name string) (int64, bool) {
	v, ok := l.m[name]
	return v, ok
}

// Allows reports whether n stays within the named limit. A limit the licence
// does not state, or states as unlimited, allows anything.
func (l Limits) Allows(name string, n int64) bool {
	v, ok := l.m[name]
	return !ok || v < 0 || n <= v
}

// Len returns the number of stated limits.
func (l Limits) Len() int { return len(l.m) }

// All returns a copy of the limits.
func (l Limits) All() map[string]int64 {
	out := make(map[string]int64, len(l.m))
	maps.Copy(out, l.m)
	return out
}

// Names returns the stated limit names in order.
func (l Limits) Names() []string {
	names := make([]string, 0, len(l.m))
	for k := range l.m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// MarshalJSON writes the limits as an object (never null).
func (l Limits) MarshalJSON() ([]byte, error) { return json.Marshal(l.All()) }

// UnmarshalJSON reads a limits object. Entries that are not numbers are
// skipped rather than failing the whole validation.
func (l *Limits) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m := make(map[string]int64, len(raw))
	for k, v := range raw {
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			continue
		}
		m[k] = clampInt(f)
	}
	*l = Limits{m: m}
	return nil
}

func clampInt(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	default:
		return int64(f)
	}
}

// Usage is what the application reports in the hourly keepalive.
type Usage struct {
	ActiveUsers int64   `json:"active_users"`
	TeamCount   int64   `json:"team_count"`
	StorageGB   float64 `json:"storage_gb"`
}

// Keepalive is the content of one keepalive call.
type Keepalive struct {
	Product  string
	ServerID string // metadata.server_id from the last validation
	Hostname string
	Version  string
	Uptime   time.Duration
	// Usage is nil when the figures could not be gathered; the usage
	// objects are then left out rather than reported as zero.
	Usage *Usage
	// FeatureUsage counts uses of each feature since the last keepalive
	// that reached the server.
	FeatureUsage map[string]int64
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
