package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Rule is a check on a value after its type has been parsed. Check gets the
// canonical text and returns a reason that never repeats the value.
type Rule interface {
	Check(value string) error
	// Describe says in a few words what the rule accepts (for listings).
	Describe() string
}

// Limits are what a rule accepts in structured form, for the published
// JSON Schema and the settings page's editors (which must not parse
// Describe's prose). A zero field means the rule says nothing about it.
type Limits struct {
	// Min and Max bound an integer.
	Min, Max *int64
	// Enum lists the only accepted values.
	Enum []string
	// Format is a JSON Schema format: "uri", "email" or "hostname".
	Format string
	// Kind names the shape for an editor, where JSON Schema has no format
	// for it or a coarser one: "url", "email", "hostname", "port",
	// "host_port".
	Kind string
	// Schemes are the URL schemes a "uri" accepts.
	Schemes []string
	// Pattern is a regular expression the value must match.
	Pattern string
	// Empty says the empty string is accepted besides the above.
	Empty bool
}

// Limited is a Rule that can state its limits; the rules of this package
// all do. RuleLimits asks any Rule.
type Limited interface {
	Limits() Limits
}

// RuleLimits returns r's structured limits; a rule that does not state
// them (an application's own) has none.
func RuleLimits(r Rule) Limits {
	if l, ok := r.(Limited); ok {
		return l.Limits()
	}
	return Limits{}
}

type ruleFunc struct {
	desc   string
	check  func(string) error
	limits Limits
}

func (r ruleFunc) Check(v string) error { return r.check(v) }
func (r ruleFunc) Describe() string     { return r.desc }
func (r ruleFunc) Limits() Limits       { return r.limits }

func int64p(n int64) *int64 { return &n }

// URL accepts an absolute URL with one of the given schemes (http and https
// when none are given) and a host.
func URL(schemes ...string) Rule {
	if len(schemes) == 0 {
		schemes = []string{"http", "https"}
	}
	desc := "a URL (" + strings.Join(schemes, " or ") + ")"
	return ruleFunc{desc, func(v string) error {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.Opaque != "" {
			return fmt.Errorf("must be %s such as %s://host:port", desc, schemes[0])
		}
		for _, s := range schemes {
			if strings.EqualFold(u.Scheme, s) {
				if u.Port() != "" {
					if err := checkPort(u.Port()); err != nil {
						return fmt.Errorf("has a bad port: %w", err)
					}
				}
				if u.User != nil {
					return errors.New("must not carry credentials in the URL; use the matching secret setting")
				}
				return nil
			}
		}
		return fmt.Errorf("must use the scheme %s", strings.Join(schemes, " or "))
	}, Limits{Format: "uri", Kind: "url", Schemes: schemes}}
}

// SecureURL accepts an https URL, or plain http only to this machine
// (localhost, loopback addresses), for servers that receive secrets.
func SecureURL() Rule {
	base := URL()
	return ruleFunc{"an https URL (http only for localhost)", func(v string) error {
		if err := base.Check(v); err != nil {
			return err
		}
		u, _ := url.Parse(v)
		if strings.EqualFold(u.Scheme, "https") {
			return nil
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); strings.EqualFold(h, "localhost") || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("must use https (plain http is accepted only for localhost)")
	}, Limits{Format: "uri", Kind: "url", Schemes: []string{"https", "http"}}}
}

// EmailAddress accepts a bare address (no display name).
func EmailAddress() Rule {
	return ruleFunc{"an email address", func(v string) error {
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v || a.Name != "" {
			return errors.New("must be an email address such as ops@example.com")
		}
		return nil
	}, Limits{Format: "email", Kind: "email"}}
}

// Port accepts 1-65535.
func Port() Rule {
	return ruleFunc{"a port (1-65535)", checkPort, Limits{Min: int64p(1), Max: int64p(65535), Kind: "port"}}
}

func checkPort(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("must be a port between 1 and 65535")
	}
	return nil
}

// Hostname accepts an RFC 1123 host name or an IP address.
func Hostname() Rule {
	return ruleFunc{"a host name or IP address", func(v string) error {
		if !validHost(v) {
			return errors.New("must be a host name (letters, digits, hyphens, dots) or an IP address")
		}
		return nil
	}, Limits{Format: "hostname", Kind: "hostname"}}
}

// HostPort accepts host:port.
func HostPort() Rule {
	return ruleFunc{"host:port", func(v string) error {
		h, p, err := net.SplitHostPort(v)
		if err != nil || !validHost(h) {
			return errors.New("must be host:port such as service:50051")
		}
		return checkPort(p)
	}, Limits{Kind: "host_port"}}
}

func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// OneOf accepts exactly one of the listed values.
func OneOf(values ...string) Rule {
	desc := "one of " + strings.Join(values, ", ")
	return ruleFunc{desc, func(v string) error {
		for _, x := range values {
			if v == x {
				return nil
			}
		}
		return errors.New("must be " + desc)
	}, Limits{Enum: append([]string(nil), values...)}}
}

// Range accepts integers within [min, max].
func Range(min, max int64) Rule {
	desc := fmt.Sprintf("between %d and %d", min, max)
	return ruleFunc{desc, func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min || n > max {
			return errors.New("must be " + desc)
		}
		return nil
	}, Limits{Min: int64p(min), Max: int64p(max)}}
}

// Regex accepts values matching pattern; hint describes the shape to a user.
func Regex(pattern, hint string) Rule {
	re := regexp.MustCompile(pattern)
	return ruleFunc{hint, func(v string) error {
		if !re.MatchString(v) {
			return errors.New("must be " + hint)
		}
		return nil
	}, Limits{Pattern: pattern}}
}

// Optional lets the empty string through, then applies r.
func Optional(r Rule) Rule {
	l := RuleLimits(r)
	l.Empty = true
	return ruleFunc{r.Describe() + " (or empty)", func(v string) error {
		if v == "" {
			return nil
		}
		return r.Check(v)
	}, l}
}
