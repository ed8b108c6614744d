package license

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The environment variables of the integration standards.
const (
	EnvKey         = "LICENSE_KEY"
	EnvServerURL   = "LICENSE_SERVER_URL"
	EnvProduct     = "PRODUCT_NAME"
	EnvReleaseMode = "RELEASE_MODE"
)

// Settings are the licence settings an administrator can change at run time.
type Settings struct {
	// Key is the licence key; empty means no licence.
	Key Key
	// ServerURL is the licence server; empty means [DefaultServerURL].
	ServerURL string
	// Product is the product name the licence is checked for. It is
	// required when Key is set.
	Product string
	// ReleaseMode turns enforcement on. When false (development) every
	// feature is enabled whatever the licence says.
	ReleaseMode bool
}

// SettingsFromEnv reads LICENSE_KEY, LICENSE_SERVER_URL, PRODUCT_NAME and
// RELEASE_MODE through getenv (os.Getenv when nil).
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	s := Settings{
		Key:       Key(getenv(EnvKey)),
		ServerURL: getenv(EnvServerURL),
		Product:   getenv(EnvProduct),
	}
	if raw := strings.TrimSpace(getenv(EnvReleaseMode)); raw != "" {
		on, err := strconv.ParseBool(raw)
		if err != nil {
			return Settings{}, fmt.Errorf("%s must be true or false, got %q", EnvReleaseMode, truncate(raw, 20))
		}
		s.ReleaseMode = on
	}
	return s.normalize()
}

// normalize trims the settings, fills defaults and checks what can be checked
// without the server. The key's shape is not checked here: a malformed key is
// a validation failure, reported by the manager the way the standards say.
func (s Settings) normalize() (Settings, error) {
	s.Key = Key(strings.TrimSpace(string(s.Key)))
	s.ServerURL = strings.TrimSpace(s.ServerURL)
	s.Product = strings.TrimSpace(s.Product)
	if s.ServerURL == "" {
		s.ServerURL = DefaultServerURL
	}
	if _, err := ParseServerURL(s.ServerURL); err != nil {
		return Settings{}, err
	}
	if s.Key != "" && s.Product == "" {
		return Settings{}, fmt.Errorf("%s is required when %s is set", EnvProduct, EnvKey)
	}
	return s, nil
}
