package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// Migrate applies every embedded migration not yet applied. Replicas that
// start together serialise on a database lock where the database has one.
func (d *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(d.Dialect))
	if err != nil {
		return fmt.Errorf("migrations for %s: %w", d.Dialect, err)
	}
	var opts []goose.ProviderOption
	var dialect goose.Dialect
	switch d.Dialect {
	case Postgres:
		dialect = goose.DialectPostgres
		l, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(l))
	case MySQL:
		dialect = goose.DialectMySQL
	default:
		dialect = goose.DialectSQLite3
	}
	p, err := goose.NewProvider(dialect, d.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		log.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration.String())
	}
	return nil
}
