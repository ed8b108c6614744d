package config

import (
	"slices"
)

// BootstrapActor is the actor Bootstrap records for the values it copies
// from the environment into the database; no person signs in under it.
const BootstrapActor = "system"

// Provenance says where a key's value in force came from, for the people
// who manage it.
type Provenance struct {
	// Source is FromEnvironment for a value read from the key's variable
	// and also for a stored value that Bootstrap copied from it and nobody
	// has changed since: the database holds it, the environment gave it.
	// FromDatabase is a value someone saved; FromDefault the declared default.
	Source Source
	// EnvDiffers reports that the key's environment variable is set to
	// something other than the value in force, so it is being ignored
	// (once a value is stored, the database wins). It carries no value.
	EnvDiffers bool
}

// Provenance returns where the value came from, as worked out when its
// snapshot was built. A Value made outside a snapshot reports its Source.
func (v *Value) Provenance() Provenance {
	if v.prov.Source == "" {
		return Provenance{Source: v.Source}
	}
	return v.prov
}

// provenance works out where v came from, comparing the key's environment
// variable (as this process sees it) with the value in force.
func (c *Config) provenance(v *Value) Provenance {
	p := Provenance{Source: v.Source}
	if v.Source == FromDatabase && v.Entry != nil && v.Entry.Unreadable == "" && v.Entry.UpdatedBy == BootstrapActor {
		p.Source = FromEnvironment
	}
	if v.Key.Name == "" || v.Source == FromEnvironment {
		return p
	}
	raw := c.getenv(v.Key.Env())
	if raw == "" {
		return p
	}
	if canon, err := v.Key.Parse(raw); err == nil {
		p.EnvDiffers = canon != v.Text
	} else {
		// Set but refused by the key's rules: it cannot be in force.
		p.EnvDiffers = true
	}
	return p
}

// IgnoredEnv lists, sorted, the declared keys whose environment variable
// is set and differs from the value in force.
func (c *Config) IgnoredEnv() []string {
	var keys []string
	for _, v := range c.cur.Load().list {
		if v.Provenance().EnvDiffers {
			keys = append(keys, v.Key.Name)
		}
	}
	slices.Sort(keys)
	return keys
}

// WarnIgnoredEnv logs a warning for each key whose environment variable
// differs from the value in force, naming the variable and never its
// value: a changed variable is otherwise silently ignored after the
// first start. Call it once the database has been loaded.
func (c *Config) WarnIgnoredEnv() {
	for _, name := range c.IgnoredEnv() {
		v := c.cur.Load().values[name]
		why := "a value is stored in the database, which wins"
		if v.Source == FromDefault {
			why = "the variable's value is not valid for this setting, so the default is in force"
		}
		c.log.Warn("environment variable differs from the setting in force and is ignored", "key", name, "env", v.Key.Env(), "reason", why)
	}
}
