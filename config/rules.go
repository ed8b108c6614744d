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

type ruleFunc struct {
	desc  string
	check func(string) error
}

func (r ruleFunc) Check(v string) error { return r.check(v) }
func (r ruleFunc) Describe() string     { return r.desc }

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
	}}
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
	}}
}

// EmailAddress accepts a bare address (no display name).
func EmailAddress() Rule {
	return ruleFunc{"an email address", func(v string) error {
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v || a.Name != "" {
			return errors.New("must be an email address such as ops@example.com")
		}
		return nil
	}}
}

// Port accepts 1-65535.
func Port() Rule {
	return ruleFunc{"a port (1-65535)", checkPort}
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
	}}
}

// HostPort accepts host:port.
func HostPort() Rule {
	return ruleFunc{"host:port", func(v string) error {
		h, p, err := net.SplitHostPort(v)
		if err != nil || !validHost(h) {
			return errors.New("must be host:port such as service:50051")
		}
		return checkPort(p)
	}}
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
	}}
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
	}}
}

// Regex accepts values matching pattern; hint describes the shape to a user.
func Regex(pattern, hint string) Rule {
	re := regexp.MustCompile(pattern)
	return ruleFunc{hint, func(v string) error {
		if !re.MatchString(v) {
			return errors.New("must be " + hint)
		}
		return nil
	}}
}

// Optional lets the empty string through, then applies r.
func Optional(r Rule) Rule {
	return ruleFunc{r.Describe() + " (or empty)", func(v string) error {
		if v == "" {
			return nil
		}
		return r.Check(v)
	}}
}
