package license

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error codes of the 403 answers.
const (
	CodeFeatureNotEntitled = "feature_not_entitled"
	CodeTierRequired       = "tier_required"
)

// Denial is the JSON body of a 403 from RequireFeature or RequireTier.
type Denial struct {
	Error        string `json:"error"`
	Feature      string `json:"feature,omitempty"`
	Tier         string `json:"tier,omitempty"`          // the tier required (RequireTier)
	RequiredTier string `json:"required_tier,omitempty"` // the tier that has the feature, if known
	CurrentTier  string `json:"current_tier,omitempty"`
	Message      string `json:"message"`
}

// RequireFeature returns middleware that lets a request through only when the
// named feature is entitled (always, in development mode), and counts each
// request it lets through for the keepalive. Otherwise it answers 403 with a
// [Denial] whose error is "feature_not_entitled".
func (m *Manager) RequireFeature(name string) func(http.Handler) http.Handler {
	uses := m.usage.counter(name) // looked up once, not per request
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !m.HasFeature(name) {
				m.DenyFeature(w, name)
				return
			}
			if uses != nil {
				uses.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireTier returns middleware that lets a request through only when the
// effective tier is t or higher. Otherwise it answers 403 with a [Denial]
// whose error is "tier_required".
func (m *Manager) RequireTier(t Tier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cur := m.Tier(); cur < t {
				writeDenial(w, Denial{
					Error:       CodeTierRequired,
					Tier:        t.String(),
					CurrentTier: cur.String(),
					Message:     fmt.Sprintf("This requires the %s tier or higher; the current licence is %s.", t.title(), cur.title()),
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// DenyFeature writes the 403 answer RequireFeature gives, for handlers that
// check HasFeature themselves.
func (m *Manager) DenyFeature(w http.ResponseWriter, name string) {
	s := m.state.Load()
	d := Denial{Error: CodeFeatureNotEntitled, Feature: name}
	switch t, known := s.featureTier[name]; {
	case known:
		d.RequiredTier = t.String()
		d.Message = fmt.Sprintf("The feature %q is not included in the current licence; it is available from the %s tier.", name, t.title())
	case !s.status.Valid:
		d.Message = fmt.Sprintf("The feature %q is not available because there is no valid licence.", name)
	default:
		d.Message = fmt.Sprintf("The feature %q is not included in the current licence.", name)
	}
	writeDenial(w, d)
}

func writeDenial(w http.ResponseWriter, d Denial) {
	body, err := json.Marshal(d)
	if err != nil {
		// A struct of strings always encodes; keep a valid answer regardless.
		body = []byte(`{"error":"forbidden","message":"Forbidden."}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(append(body, '\n'))
}
