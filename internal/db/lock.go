package db

import (
	"context"
	"database/sql"
	"fmt"
)

// Names of the rows in app_locks.
const (
	LockUsers = "users"
	LockTeams = "teams"
)

// Lock serialises the transactions that check an invariant over many rows
// (a count against a licence limit, "at least one admin") by locking the
// named row of app_locks until tx ends. A count taken after Lock sees every
// change committed by the transactions that held the lock before, so two
// writers can never both pass a check that only one of them may pass.
// SQLite needs nothing: its write transactions (BEGIN IMMEDIATE) already
// run one at a time.
func (d *DB) Lock(ctx context.Context, tx *sql.Tx, name string) error {
	if d.Dialect == SQLite {
		return nil
	}
	var got string
	if err := tx.QueryRowContext(ctx, d.Rebind(`SELECT name FROM app_locks WHERE name = ? FOR UPDATE`), name).Scan(&got); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	return nil
}
