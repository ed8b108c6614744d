package sso

import (
	"strings"

	"github.com/rookery/rookery/internal/auth"
)

// splitList splits a comma-separated setting into its trimmed, non-empty
// values.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// MapRole returns the role the claim values grant: admin when one of them
// is listed in adminValues, else maintainer when one is in
// maintainerValues, else viewer. Values compare exactly (group names and
// ids are case-sensitive at most providers).
func MapRole(values []string, adminValues, maintainerValues string) auth.Role {
	has := func(list string) bool {
		for _, want := range splitList(list) {
			for _, v := range values {
				if v == want {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has(adminValues):
		return auth.Admin
	case has(maintainerValues):
		return auth.Maintainer
	}
	return auth.Viewer
}

// DomainAllowed reports whether email's domain is one of the
// comma-separated allowed domains (case-insensitive); an empty list
// allows every domain.
func DomainAllowed(email, allowed string) bool {
	list := splitList(allowed)
	if len(list) == 0 {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	domain := email[at+1:]
	for _, d := range list {
		if strings.EqualFold(domain, d) {
			return true
		}
	}
	return false
}

// claimValues reads a claim that holds a string or a list of strings as a
// list; anything else (a number, an object) grants nothing.
func claimValues(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return t
	}
	return nil
}
