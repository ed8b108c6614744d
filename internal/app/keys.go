package app

import (
	"encoding/json"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/marchproxy"
)

// Keys are rookery's settings as typed handles: the standards' and
// rookery's own. Every Core declares its own set, so two servers in one
// process (replicas in a test) each read their own configuration.
type Keys struct {
	*config.Standard
	// MarchProxyExtras holds, as JSON in the extras file's shape, the
	// application's services and mappings that rookery cannot derive from
	// its own settings (workers, databases, other front ends). It is a
	// setting rather than only a file so that every replica and the
	// integrations page generate the same configuration.
	MarchProxyExtras *config.Setting[json.RawMessage]
}

// NewKeys declares rookery's settings.
func NewKeys() *Keys {
	return &Keys{
		Standard: config.NewStandard(),
		MarchProxyExtras: config.JSON("marchproxy_extras", config.Integration,
			config.Default(`{"services":[],"mappings":[]}`),
			config.Describe(`The application's other MarchProxy services and mappings ({"services":[...],"mappings":[...]}), added to the generated configuration`),
			config.Validate(extrasRule{})),
	}
}

// Decls lists the settings, for a registry.
func (k *Keys) Decls() []config.Decl { return config.DeclsOf(k) }

// extrasRule refuses extras that marchproxy would refuse, naming each
// problem with its path (services[0].port: ...).
type extrasRule struct{}

func (extrasRule) Describe() string {
	return "MarchProxy services and mappings"
}

func (extrasRule) Check(v string) error {
	e, err := marchproxy.ParseExtras([]byte(v))
	if err != nil {
		return err
	}
	return marchproxy.ValidateExtras(e)
}
