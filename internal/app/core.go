package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
)

// Core is what both the server and the operator commands need: the
// database, the config store and snapshot, and the users.
type Core struct {
	Settings Settings
	DB       *db.DB
	Sealer   *config.Sealer
	Store    *config.Store
	Config   *config.Config
	Auth     *auth.Service
	Log      *slog.Logger
}

// Keys is rookery's key catalogue: the standards' keys and rookery's own.
func Keys() *config.Registry {
	return config.MustRegistry(append(config.StandardKeys(), marchProxyExtrasKey)...)
}

// OpenCore opens and migrates the database and loads the configuration.
func OpenCore(ctx context.Context, s Settings, log *slog.Logger) (*Core, error) {
	sealer, err := LoadSealer(s, log)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, s.DB, log)
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx, log); err != nil {
		d.Close()
		return nil, err
	}
	store := config.NewStore(d.DB, config.Dialect(d.Dialect), Keys(), sealer)
	cfg := config.New(store, s.Getenv, log)
	if err := cfg.Reload(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	signing, err := auth.LoadSigningKey(ctx, d, sealer)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &Core{Settings: s, DB: d, Sealer: sealer, Store: store, Config: cfg, Auth: auth.New(d, signing, auth.Options{BcryptCost: s.BcryptCost}), Log: log}, nil
}

// Close releases the database.
func (c *Core) Close() error { return c.DB.Close() }

// LoadSealer builds the encryption of sensitive values from
// CONFIG_ENCRYPTION_KEY, or from a key file it creates in the data
// directory (with a warning: the key then sits next to the data, and
// replicas on other machines would each make their own).
func LoadSealer(s Settings, log *slog.Logger) (*config.Sealer, error) {
	var current []byte
	if s.EncryptionKey != "" {
		k, err := config.DecodeKey(s.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("CONFIG_ENCRYPTION_KEY: %w", err)
		}
		current = k
	} else {
		k, created, err := config.LoadOrCreateKeyFile(s.KeyFile())
		if err != nil {
			return nil, err
		}
		if created {
			log.Warn("CONFIG_ENCRYPTION_KEY is not set: generated an encryption key file next to the data; set CONFIG_ENCRYPTION_KEY in production, and the same key on every replica",
				"key_file", s.KeyFile(), "key_id", config.KeyID(k))
		}
		current = k
	}
	var old [][]byte
	for i, t := range s.OldKeys {
		k, err := config.DecodeKey(t)
		if err != nil {
			return nil, fmt.Errorf("CONFIG_ENCRYPTION_OLD_KEYS entry %d: %w", i+1, err)
		}
		old = append(old, k)
	}
	return config.NewSealer(current, old...)
}
