package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

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
	// Keys are rookery's settings, read through Config.
	Keys *Keys
}

// CoreOptions change how OpenCoreWith treats the database.
type CoreOptions struct {
	// Init lets an empty database be initialised even though the key file
	// of an earlier install is still there (rookery serve --init).
	Init bool
	// Keys are the application's own settings, registered next to
	// rookery's.
	Keys []config.Decl
	// Migrations are the application's own, applied after rookery's (see
	// Extension.Migrations).
	Migrations fs.FS
}

// OpenCore opens and migrates the database and loads the configuration.
func OpenCore(ctx context.Context, s Settings, log *slog.Logger) (*Core, error) {
	return OpenCoreWith(ctx, s, log, CoreOptions{})
}

// OpenCoreWith is OpenCore with options. Before anything is written it
// checks that a SQLite file is not damaged (PRAGMA quick_check) and that
// an empty database is not a lost one: when the key file this start would
// use already existed, the database was initialised before, and an empty
// one now means the data is gone; migrating it would quietly make a fresh
// install with a new admin, and the old secrets could no longer be told
// apart from the new. That needs o.Init.
func OpenCoreWith(ctx context.Context, s Settings, log *slog.Logger, o CoreOptions) (*Core, error) {
	earlierKey, err := existingKeyFile(s)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, s.DB, log)
	if err != nil {
		return nil, damaged(err)
	}
	if err := d.QuickCheck(ctx); err != nil {
		d.Close()
		return nil, damaged(err)
	}
	if earlierKey != "" && !o.Init {
		empty, err := d.Empty(ctx)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("check whether the database is empty: %w", err)
		}
		if empty {
			d.Close()
			return nil, fmt.Errorf("the database at %s is empty, but the key file %s (key id %s) from an earlier install exists: "+
				"restore the database from a backup, or start a fresh install anyway with `rookery serve --init` (or `rookery migrate --init`)",
				d.Where(), s.KeyFile(), earlierKey)
		}
	}
	sealer, err := LoadSealer(s, log)
	if err != nil {
		d.Close()
		return nil, err
	}
	if err := d.Migrate(ctx, log); err != nil {
		d.Close()
		return nil, err
	}
	if o.Migrations != nil {
		if err := d.MigrateApp(ctx, log, o.Migrations); err != nil {
			d.Close()
			return nil, err
		}
	}
	keys := NewKeys()
	reg, err := config.NewRegistry(append(keys.Decls(), o.Keys...)...)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("declared settings: %w", err)
	}
	store := config.NewStore(d.DB, config.Dialect(d.Dialect), reg, sealer)
	store.SetWriter(d) // SQLite: writing transactions queue for one writer connection
	cfg := config.New(store, s.Getenv, log)
	if err := cfg.Reload(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	signing, err := auth.LoadSigningKey(ctx, d, sealer, log)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &Core{Settings: s, DB: d, Sealer: sealer, Store: store, Config: cfg, Auth: auth.New(d, signing, auth.Options{BcryptCost: s.BcryptCost}), Log: log, Keys: keys}, nil
}

// damaged turns a damaged-database error into the one-line reason start-up
// fails with, naming what to run; other errors pass unchanged.
func damaged(err error) error {
	if !db.IsDamaged(err) {
		return err
	}
	return fmt.Errorf("%w; stop and run `rookery db check` for the full report, then restore the file from a backup", err)
}

// existingKeyFile returns the key id of the key file this start would use
// when that file already exists: the sign of an earlier install. It is
// "" when CONFIG_ENCRYPTION_KEY is set (the file is not used then, and a
// key from the environment says nothing about this data directory's
// past) or when there is no file yet. A file that cannot be read as a key
// is reported by LoadSealer.
func existingKeyFile(s Settings) (string, error) {
	if s.EncryptionKey != "" {
		return "", nil
	}
	b, err := os.ReadFile(s.KeyFile())
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read key file: %w", err)
	}
	k, err := config.DecodeKey(string(b))
	if err != nil {
		return "", nil
	}
	return config.KeyID(k), nil
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
