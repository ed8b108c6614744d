package config

// Constraints is what a key's value must be, in the structured form the
// settings page's editors check as the user types. It is the rule's
// Limits under the API's names; Rule.Describe stays the prose form.
type Constraints struct {
	Min     *int64   `json:"min,omitempty"`
	Max     *int64   `json:"max,omitempty"`
	Choices []string `json:"choices,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
	// Format is the shape: "url", "email", "hostname", "port" or
	// "host_port".
	Format string `json:"format,omitempty"`
	// Schemes are the URL schemes a "url" accepts.
	Schemes []string `json:"schemes,omitempty"`
	// Optional says the empty string is accepted besides the above.
	Optional bool `json:"optional,omitempty"`
}

// Constraints returns what the key's rule accepts, or nil when the key has
// no rule or its rule states nothing in structured form (an application's
// own rule that only describes itself).
func (k Key) Constraints() *Constraints {
	if k.Rule == nil {
		return nil
	}
	l := RuleLimits(k.Rule)
	c := &Constraints{Min: l.Min, Max: l.Max, Choices: l.Enum, Pattern: l.Pattern, Format: l.Kind, Schemes: l.Schemes}
	if c.Format == "" && l.Format == "uri" {
		c.Format = "url"
	} else if c.Format == "" {
		c.Format = l.Format
	}
	if c.Min == nil && c.Max == nil && len(c.Choices) == 0 && c.Pattern == "" && c.Format == "" {
		return nil
	}
	c.Optional = l.Empty
	return c
}
