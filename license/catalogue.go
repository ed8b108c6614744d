package license

import (
	"context"
	"sort"
	"strconv"
)

// Catalogue names, for each feature, the lowest tier that includes it. A
// valid licence of that tier or higher grants the feature even when the
// licence server does not list it as entitled: the tier is what the customer
// bought, and servers differ in how completely they list features.
type Catalogue map[string]Tier

// Names of the standards' features that services commonly gate on.
const (
	FeatureBasicAuth     = "basic_auth"
	FeatureMultipleTeams = "multiple_teams"
	FeatureAPIKeys       = "api_keys"
	FeatureAuditLogs     = "audit_logs"
	FeatureAIAnalysis    = "ai_analysis"
	FeatureAIGeneration  = "ai_generation"
	// FeatureSSOIntegration is OpenID Connect sign-in.
	FeatureSSOIntegration = "sso_integration"
	// FeatureCustomSAML is SAML 2.0 sign-in.
	FeatureCustomSAML = "custom_saml"
)

// StandardCatalogue returns the tier catalogue of the PenguinTech integration
// standards. Each call returns a new map, so an application may add its own
// features to it before passing it as [Options.FeatureTiers].
func StandardCatalogue() Catalogue {
	return Catalogue{
		FeatureBasicAuth:      Community,
		FeatureSSOIntegration: Professional,
		FeatureMultipleTeams:  Professional,
		FeatureAPIKeys:        Professional,
		FeatureAuditLogs:      Professional,
		FeatureAIAnalysis:     Professional,
		FeatureAIGeneration:   Professional,
		FeatureCustomSAML:     Enterprise,
		"advanced_analytics":  Enterprise,
		"priority_support":    Enterprise,
		"ai_training":         Enterprise,
		"ai_custom_models":    Enterprise,
	}
}

// Implemented lists, sorted, the features of [StandardCatalogue] that
// rookery itself provides. A licence may grant the others, but rookery has
// nothing behind them, so its licence page does not show them as available.
// Gating (HasFeature) is unaffected: it says what the licence allows.
func Implemented() []string {
	return []string{FeatureAIAnalysis, FeatureAIGeneration, FeatureAPIKeys, FeatureAuditLogs, FeatureBasicAuth, FeatureCustomSAML,
		FeatureMultipleTeams, FeatureSSOIntegration}
}

// Grants reports whether a licence of tier t includes feature by the
// catalogue alone. A feature the catalogue does not name is never granted
// by tier.
func (c Catalogue) Grants(t Tier, feature string) bool {
	min, ok := c[feature]
	return ok && t >= min
}

// Features returns the catalogued feature names in order.
func (c Catalogue) Features() []string {
	names := make([]string, 0, len(c))
	for name := range c {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// granted returns the catalogued features a licence of tier t includes,
// under every name they answer to for product.
func (c Catalogue) granted(t Tier, product string) []string {
	var names []string
	for name, min := range c {
		if name != "" && t >= min {
			names = append(names, featureForms(name, product)...)
		}
	}
	return names
}

// CommunityMaxUsers is the standards' user limit of the community tier, in
// force when an enforced community licence (or no valid licence) states no
// limits.max_users of its own.
const CommunityMaxUsers = 5

// LimitMaxUsers is the name of the licence limit on active users.
const LimitMaxUsers = "max_users"

// maxUsers is the user limit a snapshot enforces; see [Manager.MaxUsers].
func maxUsers(releaseMode bool, tier Tier, limits Limits) int64 {
	if !releaseMode {
		return Unlimited
	}
	if n, ok := limits.Get(LimitMaxUsers); ok {
		if n < 0 {
			return Unlimited
		}
		return n
	}
	if tier == Community {
		return CommunityMaxUsers
	}
	return Unlimited
}

// MaxUsers returns the limit on active users in force: the licence's
// limits.max_users, else [CommunityMaxUsers] on an enforced community licence
// or without a valid licence, else [Unlimited]. In development mode
// (RELEASE_MODE=false) it is always Unlimited.
func (m *Manager) MaxUsers() int64 { return m.state.Load().maxUsers }

// CheckUserLimit refuses, with a [*LimitError], a change that would add an
// active user when active users already reach the limit in force. Its
// signature fits a users service's limit hook; the context is unused, as the
// answer comes from the in-memory snapshot.
func (m *Manager) CheckUserLimit(_ context.Context, active int) error {
	// One snapshot for both the limit and the tier, so the message never
	// mixes two licences read across a refresh.
	s := m.state.Load()
	if s.maxUsers < 0 || int64(active) < s.maxUsers {
		return nil
	}
	return &LimitError{Limit: LimitMaxUsers, Max: s.maxUsers, Tier: s.tier}
}

// Entitlements reports, for every feature of the catalogue given as
// [Options.FeatureTiers], whether it is granted now.
func (m *Manager) Entitlements() map[string]bool {
	s := m.state.Load()
	out := make(map[string]bool, len(m.opts.FeatureTiers))
	for name := range m.opts.FeatureTiers {
		out[name] = s.allowAll || s.features.has(name)
	}
	return out
}

// LimitError is the refusal of a change that would exceed a licence limit.
// An HTTP layer answers it with 403 and the fields, as
// {"error": Error(), "limit": Limit, Limit: Max}.
type LimitError struct {
	Limit string // the licence limit, such as "max_users"
	Max   int64  // its value in force
	Tier  Tier   // the effective tier, named in the message
}

func (e *LimitError) Error() string {
	max := strconv.FormatInt(e.Max, 10)
	if e.Limit == LimitMaxUsers {
		return "user limit reached: the " + e.Tier.String() + " licence allows at most " + max +
			" users (limits." + e.Limit + "); remove a user or upgrade the licence"
	}
	return "licence limit reached: the " + e.Tier.String() + " licence allows at most " + max +
		" (limits." + e.Limit + "); upgrade the licence"
}
