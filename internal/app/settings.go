// Package app is the composition root: it builds every part of rookery
// from its settings and runs and stops them.
package app

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
)

// Settings are the process-level settings: what must be known before the
// database is open, or cannot change without a restart. Everything else is
// a config key.
type Settings struct {
	DB            db.Settings
	DataDir       string
	HTTPAddr      string
	AdminEmail    string
	AdminPassword string
	// EncryptionKey is CONFIG_ENCRYPTION_KEY; OldKeys open values sealed
	// before a rotation.
	EncryptionKey string
	OldKeys       []string
	SecureCookies bool
	// TrustedProxies (TRUSTED_PROXIES, comma-separated CIDR ranges) are
	// the proxies whose X-Forwarded-For is believed to name the client.
	TrustedProxies []netip.Prefix
	PollInterval   time.Duration
	// BcryptCost is BCRYPT_COST (default 12): the work factor of password hashes.
	BcryptCost int
	// GRPCEnabled (GRPC_ENABLED) serves the gRPC health service on
	// GRPCPort (GRPC_PORT, default 50051), the path the generated
	// MarchProxy configuration advertises.
	GRPCEnabled bool
	GRPCPort    int
	// AppHost (APP_HOST) is the name MarchProxy reaches this service by;
	// empty means the app_name.
	AppHost string
	// AppVersion (APP_VERSION) goes into generated MarchProxy metadata.
	AppVersion string
	Getenv     func(string) string
}

// SettingsFromEnv reads the process settings. getenv is os.Getenv in
// production.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	d, err := db.SettingsFromEnv(getenv)
	if err != nil {
		return Settings{}, err
	}
	s := Settings{DB: d, DataDir: d.DataDir, Getenv: getenv,
		AdminEmail: getenv("ADMIN_EMAIL"), AdminPassword: getenv("ADMIN_PASSWORD"),
		EncryptionKey: getenv("CONFIG_ENCRYPTION_KEY"), PollInterval: time.Second}
	for _, k := range strings.Split(getenv("CONFIG_ENCRYPTION_OLD_KEYS"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			s.OldKeys = append(s.OldKeys, k)
		}
	}
	port := strings.TrimSpace(getenv("HTTP_PORT"))
	if port == "" {
		port = "8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return s, fmt.Errorf("HTTP_PORT=%q is not a port (0-65535)", port)
	}
	s.HTTPAddr = net.JoinHostPort(getenv("HTTP_HOST"), port)
	if v := getenv("SECURE_COOKIES"); v != "" {
		b, ok := config.ParseBool(v)
		if !ok {
			return s, fmt.Errorf("SECURE_COOKIES=%q must be true or false", v)
		}
		s.SecureCookies = b
	}
	if s.TrustedProxies, err = parseTrustedProxies(getenv("TRUSTED_PROXIES")); err != nil {
		return s, err
	}
	s.GRPCPort, s.AppHost, s.AppVersion = 50051, getenv("APP_HOST"), getenv("APP_VERSION")
	if v := getenv("GRPC_ENABLED"); v != "" {
		b, ok := config.ParseBool(v)
		if !ok {
			return s, fmt.Errorf("GRPC_ENABLED=%q must be true or false", v)
		}
		s.GRPCEnabled = b
	}
	if v := getenv("GRPC_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return s, fmt.Errorf("GRPC_PORT=%q is not a port (0-65535)", v)
		}
		s.GRPCPort = n
	}
	if v := getenv("BCRYPT_COST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 || n > 16 {
			return s, fmt.Errorf("BCRYPT_COST=%q must be between 4 and 16", v)
		}
		s.BcryptCost = n
	}
	if v := getenv("CONFIG_POLL_INTERVAL"); v != "" {
		p, err := time.ParseDuration(v)
		if err != nil || p < 50*time.Millisecond {
			return s, fmt.Errorf("CONFIG_POLL_INTERVAL=%q must be a duration of at least 50ms (e.g. 1s)", v)
		}
		s.PollInterval = p
	}
	return s, nil
}

// parseTrustedProxies reads TRUSTED_PROXIES: CIDR ranges separated by
// commas; a bare address stands for itself alone.
func parseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR range such as 10.0.0.0/8 or fd00::/8: %w", f, err)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8: peers are compared unmapped.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// KeyFile is where the generated encryption key lives when
// CONFIG_ENCRYPTION_KEY is not set.
func (s Settings) KeyFile() string { return filepath.Join(s.DataDir, "config.key") }
