package license

import "strings"

// Tier is a licence tier. Tiers are ordered: Community < Professional <
// Enterprise, and the zero value is Community, the free tier.
type Tier int8

// The tiers of the PenguinTech licence model.
const (
	Community Tier = iota
	Professional
	Enterprise
)

// ParseTier reads a tier name as the licence server sends it. It accepts
// "free" for Community and "pro" for Professional, ignores case and
// surrounding space, and treats anything it does not know as Community, the
// safe reading of an unknown tier.
func ParseTier(s string) Tier {
	t, _ := LookupTier(s)
	return t
}

// LookupTier is ParseTier that also reports whether s named a known tier, for
// callers that want to refuse a typo instead of silently falling back.
func LookupTier(s string) (Tier, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "community", "free":
		return Community, true
	case "professional", "pro":
		return Professional, true
	case "enterprise":
		return Enterprise, true
	default:
		return Community, false
	}
}

// String returns the lower-case tier name used on the wire.
func (t Tier) String() string {
	switch t {
	case Community:
		return "community"
	case Professional:
		return "professional"
	case Enterprise:
		return "enterprise"
	default:
		return "unknown"
	}
}

// title is the tier name for sentences shown to people.
func (t Tier) title() string {
	switch t {
	case Community:
		return "Community"
	case Professional:
		return "Professional"
	case Enterprise:
		return "Enterprise"
	default:
		return "Unknown"
	}
}

// MarshalText writes the tier name.
func (t Tier) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a tier name leniently, as [ParseTier] does.
func (t *Tier) UnmarshalText(b []byte) error {
	*t = ParseTier(string(b))
	return nil
}
