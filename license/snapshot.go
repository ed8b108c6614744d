package license

import (
	"sort"
	"strings"
	"time"
)

// snapshot is the entitlement state readers see. It is built whole and
// swapped in with one atomic store, and never changed afterwards, so readers
// need no lock.
type snapshot struct {
	allowAll    bool            // development mode: everything is allowed
	tier        Tier            // effective tier for AtLeast
	features    featureSet      // granted names, bare and qualified: entitled by the server or by tier
	featureTier map[string]Tier // which tier has a feature, for 403 messages
	limits      Limits          // effective limits
	maxUsers    int64           // the user limit in force; Unlimited for none
	status      Status
	changed     chan struct{} // closed when a newer snapshot replaces this one
}

// view is what the manager knows, kept under Manager.mu; publishing turns it
// into a snapshot.
type view struct {
	result        *Validation // what the server (or the cache) said; nil if nothing
	valid         bool
	source        Source // live, cached or none; development is applied when publishing
	validatedAt   time.Time
	lastErr       string
	lastErrOp     string
	lastKeepalive time.Time
	// lastChecked is when the server last answered a validation (or
	// could not be reached when asked), whatever it said.
	lastChecked time.Time
}

func buildSnapshot(s Settings, v view, serverURL string, tiers map[string]Tier) *snapshot {
	st := Status{
		Tier:          Community,
		Product:       s.Product,
		Features:      []string{},
		Limits:        map[string]int64{},
		Source:        v.source,
		Valid:         v.valid,
		ReleaseMode:   s.ReleaseMode,
		LastValidated: v.validatedAt,
		LastKeepalive: v.lastKeepalive,
		LastChecked:   v.lastChecked,
		LastError:     v.lastErr,
		ServerURL:     serverURL,
		KeyMasked:     MaskKey(string(s.Key)),
	}
	r := v.result
	if r != nil {
		st.Tier = r.Tier
		st.Customer = r.Customer
		if r.Product != "" {
			st.Product = r.Product
		}
		st.ExpiresAt = r.ExpiresAt
		st.IssuedAt = r.IssuedAt
		st.Features = entitledNames(r.Features)
		st.Limits = r.Limits.All()
		st.ServerID = r.Metadata.ServerID
	}
	snap := &snapshot{status: st, featureTier: featureTiers(tiers, r, s.Product), changed: make(chan struct{})}
	switch {
	case !s.ReleaseMode:
		snap.allowAll = true
		snap.tier = Enterprise
		snap.status.Source = SourceDevelopment
	case v.valid && r != nil:
		snap.tier = r.Tier
		snap.features = grantedSet(r.Features, tiers, r.Tier, s.Product)
		snap.limits = r.Limits
	default:
		// Without a valid licence only the free tier is left.
		snap.tier = Community
		snap.features = grantedSet(nil, tiers, Community, s.Product)
	}
	snap.maxUsers = maxUsers(s.ReleaseMode, snap.tier, snap.limits)
	return snap
}

// grantedSet holds every granted feature under both of its names, bare
// (audit_logs) and qualified with the product (rookery.audit_logs), so a
// lookup is a single set access whichever form the caller or the server used.
// A feature is granted when the server lists it as entitled or when the
// catalogue puts it in tier or below; deciding this once per snapshot keeps
// HasFeature a single lookup.
func grantedSet(features []Feature, catalogue map[string]Tier, tier Tier, product string) featureSet {
	names := make([]string, 0, 2*len(features))
	for _, f := range features {
		if f.Entitled && f.Name != "" {
			names = append(names, featureForms(f.Name, product)...)
		}
	}
	names = append(names, Catalogue(catalogue).granted(tier, product)...)
	return newFeatureSet(names)
}

// featureForms returns the names a feature answers to for product.
func featureForms(name, product string) []string {
	if product == "" {
		return []string{name}
	}
	prefix := product + "."
	if len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
		return []string{name, prefix + name[len(prefix):], name[len(prefix):]}
	}
	return []string{name, prefix + name}
}

func entitledNames(features []Feature) []string {
	names := make([]string, 0, len(features))
	seen := make(map[string]bool, len(features))
	for _, f := range features {
		if f.Entitled && f.Name != "" && !seen[f.Name] {
			seen[f.Name] = true
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	return names
}

// tierMetadataKeys are the feature metadata entries that may name the tier a
// feature belongs to.
var tierMetadataKeys = [...]string{"tier", "required_tier", "min_tier", "minimum_tier"}

// featureTiers merges the tiers the application declared for its features
// with any the server states in feature metadata (the server wins).
func featureTiers(declared map[string]Tier, r *Validation, product string) map[string]Tier {
	out := make(map[string]Tier, len(declared))
	for name, t := range declared {
		for _, form := range featureForms(name, product) {
			out[form] = t
		}
	}
	if r == nil {
		return out
	}
	for _, f := range r.Features {
		for _, k := range tierMetadataKeys {
			s, ok := f.Metadata[k].(string)
			if !ok {
				continue
			}
			if t, ok := LookupTier(s); ok {
				for _, form := range featureForms(f.Name, product) {
					out[form] = t
				}
				break
			}
		}
	}
	return out
}
