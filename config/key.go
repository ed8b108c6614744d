// Package config is the configuration system of the PenguinTech
// integration standards: keys declared once in Go, bootstrapped from
// environment variables into a `config` table, then read from an immutable
// in-memory snapshot that follows the database at runtime.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Type is the value type of a key, as stored in config.config_type.
type Type string

// The value types of the standards.
const (
	TypeString  Type = "string"
	TypeInteger Type = "integer"
	TypeBoolean Type = "boolean"
	TypeJSON    Type = "json"
)

// Category groups keys, as stored in config.category.
type Category string

// The categories of the standards.
const (
	Integration Category = "integration"
	Email       Category = "email"
	Security    Category = "security"
	Database    Category = "database"
	System      Category = "system"
	License     Category = "license"
)

// Categories lists the valid categories in display order.
var categories = []Category{Integration, Email, Security, Database, System, License}

// Categories returns the valid categories in display order.
func Categories() []Category { return append([]Category(nil), categories...) }

// MaxValueBytes bounds a single value; config is not a blob store.
const MaxValueBytes = 64 << 10

// Key declares one setting. Sensitivity, type and validation live here and
// nowhere else: every listing, log line and audit record asks the key.
type Key struct {
	Name        string
	Type        Type
	Category    Category
	Description string
	Sensitive   bool
	// Rule adds a check beyond the type (URL, port, enum...). May be nil.
	Rule Rule
	// Default is used when neither the database nor the environment has a
	// value. It is not validated against Rule: "" often means "unset".
	Default string
	// Carries names the sensitive keys whose values are sent to where this
	// key points (a URL, a host). Changing this key while one of them is
	// set requires giving that secret again in the same change: otherwise
	// an administrator who cannot read the secret could redirect it to a
	// host of their choosing. The registry checks every name.
	Carries []string
}

// Env is the environment variable that bootstraps the key: its name in
// upper case, as in the standards (smtp_pass -> SMTP_PASS).
func (k Key) Env() string { return strings.ToUpper(k.Name) }

// Parse validates raw for the key and returns its canonical text form:
// booleans become "true"/"false", integers lose padding, JSON is compacted.
// The error never contains the value.
func (k Key) Parse(raw string) (string, error) {
	canon, err := parseType(k.Type, raw)
	if err != nil {
		return "", &ValidationError{Key: k.Name, Reason: err.Error()}
	}
	if k.Rule != nil {
		if err := k.Rule.Check(canon); err != nil {
			return "", &ValidationError{Key: k.Name, Reason: err.Error()}
		}
	}
	return canon, nil
}

func parseType(t Type, raw string) (string, error) {
	if len(raw) > MaxValueBytes {
		return "", fmt.Errorf("is longer than %d bytes", MaxValueBytes)
	}
	switch t {
	case TypeInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return "", errors.New("must be a whole number")
		}
		return strconv.FormatInt(n, 10), nil
	case TypeBoolean:
		b, ok := ParseBool(raw)
		if !ok {
			return "", errors.New("must be one of true, false, 1, 0, yes, no, on, off")
		}
		return strconv.FormatBool(b), nil
	case TypeJSON:
		if !json.Valid([]byte(raw)) {
			return "", errors.New("must be valid JSON")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(raw)); err != nil {
			return "", errors.New("must be valid JSON")
		}
		return buf.String(), nil
	case TypeString:
		if strings.ContainsRune(raw, 0) {
			return "", errors.New("must not contain NUL characters")
		}
		return raw, nil
	}
	return "", fmt.Errorf("has unknown type %q", t)
}

// ParseBool accepts exactly true/false/1/0/yes/no/on/off, any case. The
// standards' `value.lower() in [...]` turns "banana" into false; this does
// not.
func ParseBool(raw string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}

// Registry is the set of declared keys.
type Registry struct {
	keys  map[string]Key
	order []string
	index map[string]int // position in order
	// binders are the typed settings among the declarations, bound to a
	// Config when one is built on this registry.
	binders map[string]binder
}

// NewRegistry checks the declarations (plain Keys or typed Settings) and
// indexes them.
func NewRegistry(decls ...Decl) (*Registry, error) {
	r := &Registry{keys: make(map[string]Key, len(decls)), binders: map[string]binder{}}
	keys := make([]Key, 0, len(decls))
	for _, d := range decls {
		k := d.Decl()
		if err := k.check(); err != nil {
			return nil, err
		}
		if _, dup := r.keys[k.Name]; dup {
			return nil, fmt.Errorf("config key %q declared twice", k.Name)
		}
		r.keys[k.Name] = k
		r.order = append(r.order, k.Name)
		keys = append(keys, k)
		if b, ok := d.(binder); ok {
			r.binders[k.Name] = b
		}
	}
	for _, k := range keys {
		if err := r.checkCarries(k); err != nil {
			return nil, err
		}
	}
	sort.Strings(r.order)
	r.index = make(map[string]int, len(r.order))
	for i, n := range r.order {
		r.index[n] = i
	}
	return r, nil
}

// MustRegistry is NewRegistry for declarations fixed at compile time.
func MustRegistry(decls ...Decl) *Registry {
	r, err := NewRegistry(decls...)
	if err != nil {
		panic(err)
	}
	return r
}

func (k Key) check() error {
	if !validKeyName(k.Name) {
		return fmt.Errorf("config key %q: names are lower case letters, digits and underscores", k.Name)
	}
	switch k.Type {
	case TypeString, TypeInteger, TypeBoolean, TypeJSON:
	default:
		return fmt.Errorf("config key %q: unknown type %q", k.Name, k.Type)
	}
	if !ValidCategory(k.Category) {
		return fmt.Errorf("config key %q: unknown category %q", k.Name, k.Category)
	}
	return nil
}

// checkCarries refuses a Carries list that names an undeclared key, a key
// that is not sensitive (nothing to protect: a typo, most likely), the key
// itself, or the same key twice.
func (r *Registry) checkCarries(k Key) error {
	seen := map[string]bool{}
	for _, name := range k.Carries {
		target, ok := r.keys[name]
		switch {
		case !ok:
			return fmt.Errorf("config key %q carries %q, which is not declared", k.Name, name)
		case name == k.Name:
			return fmt.Errorf("config key %q cannot carry itself", k.Name)
		case !target.Sensitive:
			return fmt.Errorf("config key %q carries %q, which is not sensitive", k.Name, name)
		case seen[name]:
			return fmt.Errorf("config key %q carries %q twice", k.Name, name)
		}
		seen[name] = true
	}
	return nil
}

// ValidCategory reports whether c is one of the standards' categories.
func ValidCategory(c Category) bool {
	for _, x := range categories {
		if x == c {
			return true
		}
	}
	return false
}

func validKeyName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' && i > 0 || c == '_' && i > 0) {
			return false
		}
	}
	return true
}

// Lookup returns the declaration of name.
func (r *Registry) Lookup(name string) (Key, bool) {
	k, ok := r.keys[name]
	return k, ok
}

// Keys returns the declarations sorted by name.
func (r *Registry) Keys() []Key {
	out := make([]Key, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.keys[n])
	}
	return out
}
