package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// Migrate applies every embedded migration not yet applied. Replicas that
// start together serialise on a database lock where the database has one.
func (d *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	return d.migrate(ctx, log, migrations, "migrations", "")
}

// AppVersionTable records the migrations of an application built on
// rookery, apart from rookery's own.
const AppVersionTable = "app_goose_db_version"

// MigrateApp applies an application's own migrations: goose SQL files in
// one folder per dialect (sqlite/, postgres/, mysql/) of fsys, recorded in
// AppVersionTable so they never mix with rookery's.
func (d *DB) MigrateApp(ctx context.Context, log *slog.Logger, fsys fs.FS) error {
	if err := d.migrate(ctx, log, fsys, ".", AppVersionTable); err != nil {
		return fmt.Errorf("application migrations: %w", err)
	}
	return nil
}

func (d *DB) migrate(ctx context.Context, log *slog.Logger, fsys fs.FS, root, table string) error {
	sub, err := fs.Sub(fsys, path.Join(root, string(d.Dialect)))
	if err != nil {
		return fmt.Errorf("migrations for %s: %w", d.Dialect, err)
	}
	var opts []goose.ProviderOption
	if table != "" {
		opts = append(opts, goose.WithTableName(table))
	}
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
