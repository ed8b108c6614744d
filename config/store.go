package config

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Dialect names the SQL flavour the store talks: "sqlite", "postgres" or
// "mysql".
type Dialect string

// NotifyChannel is the PostgreSQL channel a write notifies, so replicas
// reload at once instead of at their next poll.
const NotifyChannel = "rookery_config"

// Entry is one stored row, its value decrypted.
type Entry struct {
	// Unreadable says why the stored value could not be decrypted (a
	// tampered row, or one sealed with a key that is no longer given);
	// "" when it could. Value is then empty and never used.
	Unreadable  string
	Key         string
	Value       string
	Type        Type
	Category    Category
	Description string
	Sensitive   bool
	LastUpdated time.Time
	UpdatedBy   string
	CreatedAt   time.Time
	Version     int64
}

// Shown is the value as anyone outside the process may see it.
func (e Entry) Shown() string {
	if e.Unreadable != "" {
		return UnreadableMark
	}
	if e.Sensitive {
		return Masked
	}
	return e.Value
}

// UnreadableMark stands for a stored value that could not be decrypted,
// in listings and in the audit trail.
const UnreadableMark = "(unreadable)"

// Origin says who makes a change, for the audit trail.
type Origin struct {
	Actor     string
	RequestID string
	ClientIP  string
}

// Audit actions.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionDelete    = "delete"
	ActionBootstrap = "bootstrap"
	ActionRekey     = "rekey"
)

// AuditRecord is one line of a key's history. Values of sensitive keys are
// stored and returned masked.
type AuditRecord struct {
	ID        int64     `json:"id"`
	Key       string    `json:"key"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor"`
	RequestID string    `json:"request_id,omitempty"`
	ClientIP  string    `json:"client_ip,omitempty"`
	OldValue  *string   `json:"old_value"`
	NewValue  *string   `json:"new_value"`
	Version   int64     `json:"version"`
	At        time.Time `json:"at"`
}

// Version preconditions for Set and Delete.
const (
	// AnyVersion applies the change whatever the stored version.
	AnyVersion int64 = -1
	// Absent requires that the key is not stored yet.
	Absent int64 = 0
)

// Store reads and writes the config table, its audit trail and the
// revision counter, each change in one transaction.
type Store struct {
	db *sql.DB
	// writer begins the writing transactions: db itself, or what SetWriter
	// gave (SQLite's single writer).
	writer TxBeginner
	// turn lets two of the store's transactions in at a time, the others
	// waiting in arrival order (a channel's blocked senders are served
	// first come, first served). Every change takes the revision row
	// anyway, so one runs while the next waits for that row in the
	// database (taking over without a round trip); waiting here instead
	// keeps the pool's other connections free for reads and spares
	// PostgreSQL and MySQL a crowd of lock waiters.
	turn    chan struct{}
	dialect Dialect
	reg     *Registry
	// sealer is swapped by RotateKey while readers (the watcher's
	// reloads, requests) may be opening values.
	sealer atomic.Pointer[Sealer]
	now    func() time.Time
	// getenv is where the environment layer comes from: the secret
	// re-entry rule must see a secret that is set only in the environment.
	getenv func(string) string
}

// NewStore wraps an open database whose schema is migrated. It reads the
// process environment until SetEnv says otherwise.
func NewStore(db *sql.DB, dialect Dialect, reg *Registry, sealer *Sealer) *Store {
	s := &Store{db: db, writer: db, turn: make(chan struct{}, storeTurns), dialect: dialect, reg: reg, now: time.Now, getenv: os.Getenv}
	s.sealer.Store(sealer)
	return s
}

// TxBeginner starts transactions: *sql.DB is one, and so is a handle that
// queues writing transactions for one writer connection.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// TxRunner runs a function in a writing transaction and commits it,
// possibly together with other writes queued at the same time (SQLite's
// group commit in rookery's database handle). fn's own error comes back as
// it is; fn must use the context it is given and be safe to run again.
type TxRunner interface {
	RunTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error
}

// SetWriter makes every transaction of the store begin on w. On SQLite
// rookery gives its single writer, so concurrent changes queue in arrival
// order instead of sleeping in SQLite's busy handler, and when w is also a
// TxRunner, the changes queued together commit together; reads stay on the
// pool NewStore was given. Call it before the store is used.
func (s *Store) SetWriter(w TxBeginner) {
	if w != nil {
		s.writer = w
	}
}

// SetEnv sets where environment values come from (New does it with its
// own getenv, so the store and the snapshot agree). Call it before the
// store is used.
func (s *Store) SetEnv(getenv func(string) string) {
	if getenv != nil {
		s.getenv = getenv
	}
}

// Registry returns the declared keys.
func (s *Store) Registry() *Registry { return s.reg }

// Sealer returns the sealer the store opens and seals values with.
func (s *Store) Sealer() *Sealer { return s.sealer.Load() }

func (s *Store) q(query string) string {
	if s.dialect != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (s *Store) forUpdate() string {
	if s.dialect == "sqlite" {
		return "" // the transaction already holds the write lock
	}
	return " FOR UPDATE"
}

const entryColumns = `config_key, config_value, config_type, category, description, is_sensitive,
	last_updated, updated_by, created_at, version`

type rowScanner interface{ Scan(dest ...any) error }

func (s *Store) scanEntry(r rowScanner) (Entry, error) {
	var e Entry
	var desc, by sql.NullString
	var updated, created sql.NullTime
	var sensitive sql.NullBool
	if err := r.Scan(&e.Key, &e.Value, &e.Type, &e.Category, &desc, &sensitive, &updated, &by, &created, &e.Version); err != nil {
		return e, err
	}
	e.Description, e.UpdatedBy = desc.String, by.String
	e.LastUpdated, e.CreatedAt = updated.Time.UTC(), created.Time.UTC()
	e.Sensitive = sensitive.Bool
	if k, ok := s.reg.Lookup(e.Key); ok && k.Sensitive {
		e.Sensitive = true
	}
	if IsSealed(e.Value) {
		// A row that does not open is reported on the entry, not as an
		// error: one tampered row must not stop every reader (start-up,
		// the CLI command that would delete it).
		v, err := s.sealer.Load().Open(e.Key, e.Value)
		if err != nil {
			e.Value, e.Unreadable = "", err.Error()
			return e, nil
		}
		e.Value = v
	}
	return e, nil
}

// unavailable marks database failures so the API can answer 503.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
}

// List returns every stored row ordered by category then key, and the
// revision read before the rows (so a change racing the read is noticed
// by the next revision check).
func (s *Store) List(ctx context.Context) ([]Entry, int64, error) {
	rev, err := s.Revision(ctx)
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM config ORDER BY category, config_key`)
	if err != nil {
		return nil, 0, unavailable("list config", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := s.scanEntry(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list config: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, unavailable("list config", err)
	}
	return out, rev, nil
}

// Get returns one stored row or ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (Entry, error) {
	e, err := s.scanEntry(s.db.QueryRowContext(ctx, s.q(`SELECT `+entryColumns+` FROM config WHERE config_key = ?`), key))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return e, unavailable("get config "+key, err)
	}
	return e, nil
}

// Revision is the counter every change bumps.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.db.QueryRowContext(ctx, `SELECT revision FROM config_revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, unavailable("read config revision", err)
	}
	return rev, nil
}

// Set validates raw for key and stores it: created when absent (only for
// declared keys), updated otherwise. ifVersion is AnyVersion, Absent, or
// the version the caller last saw (optimistic concurrency). Changing a key
// that carries secrets while they are set is refused with a
// SecretReentryError: use Apply to give them along.
func (s *Store) Set(ctx context.Context, key, raw string, ifVersion int64, o Origin) (Entry, error) {
	return s.set(ctx, key, raw, ifVersion, o, false)
}

// set is Set; bootstrap marks the environment's first insert, which the
// secret re-entry rule does not apply to (the environment set both).
func (s *Store) set(ctx context.Context, key, raw string, ifVersion int64, o Origin, bootstrap bool) (Entry, error) {
	decl, declared := s.reg.Lookup(key)
	var out Entry
	err := s.inSharedTx(ctx, "set config "+key, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := s.lockRevision(ctx, tx); err != nil {
			return err
		}
		cur, err := s.lockRow(ctx, tx, key)
		if err != nil {
			return err
		}
		switch {
		case cur == nil && !declared:
			return fmt.Errorf("%s: %w", key, ErrNotFound)
		case cur == nil && ifVersion > 0:
			return &ConflictError{Key: key}
		case cur != nil && ifVersion != AnyVersion && ifVersion != cur.Version:
			return &ConflictError{Key: key, Current: cur.Version}
		}
		k := decl
		if !declared { // a row left by an older release: keep its own type
			k = rowKey(*cur)
		}
		canon, err := k.Parse(raw)
		if err != nil {
			return err
		}
		if !bootstrap {
			redirects := moves(s.effective(k, cur), canon)
			if err := s.checkReentry(ctx, tx, map[string]bool{key: redirects}, map[string]Edit{key: {Key: key, Value: canon}}); err != nil {
				return err
			}
		}
		action := ActionCreate
		if bootstrap {
			action = ActionBootstrap
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		if out, err = s.write(ctx, tx, k, cur, canon, action, o, now); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
	return out, err
}

// Delete removes a stored key; the effective value falls back to the
// environment, then the default. A row whose value cannot be decrypted is
// refused with an UnreadableError (see ForceDelete).
func (s *Store) Delete(ctx context.Context, key string, ifVersion int64, o Origin) error {
	return s.delete(ctx, key, ifVersion, o, false)
}

// ForceDelete is Delete that also removes a row whose value cannot be
// decrypted; the audit trail records the old value as UnreadableMark.
func (s *Store) ForceDelete(ctx context.Context, key string, ifVersion int64, o Origin) error {
	return s.delete(ctx, key, ifVersion, o, true)
}

func (s *Store) delete(ctx context.Context, key string, ifVersion int64, o Origin, force bool) error {
	return s.inSharedTx(ctx, "delete config "+key, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := s.lockRevision(ctx, tx); err != nil {
			return err
		}
		cur, err := s.lockRow(ctx, tx, key)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		if ifVersion != AnyVersion && ifVersion != cur.Version {
			return &ConflictError{Key: key, Current: cur.Version}
		}
		if cur.Unreadable != "" && !force {
			return &UnreadableError{Key: key, Op: "delete"}
		}
		k, declared := s.reg.Lookup(key)
		if !declared {
			k = rowKey(*cur)
		}
		redirects := moves(s.effective(k, cur), s.fallback(k))
		if err := s.checkReentry(ctx, tx, map[string]bool{key: redirects}, map[string]Edit{key: {Key: key, Remove: true}}); err != nil {
			return err
		}
		if err := s.drop(ctx, tx, *cur, o, s.now().UTC().Truncate(time.Microsecond)); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
}

// rowKey is the declaration of a stored row whose key is not declared (left
// by an older release): its own type, category and sensitivity.
func rowKey(e Entry) Key {
	return Key{Name: e.Key, Type: e.Type, Category: e.Category, Description: e.Description, Sensitive: e.Sensitive}
}

// lockRow reads key's row for update inside tx; nil when it is not stored.
func (s *Store) lockRow(ctx context.Context, tx *sql.Tx, key string) (*Entry, error) {
	return s.readRow(ctx, tx, key, true)
}

// fallback is the value key has when nothing is stored: its environment
// variable when that is valid, else its default (the snapshot's order).
func (s *Store) fallback(k Key) string {
	if raw := s.getenv(k.Env()); raw != "" {
		if canon, err := k.Parse(raw); err == nil {
			return canon
		}
	}
	return k.Default
}

// effective is the value in force for key given its stored row (nil when
// absent): a row that cannot be decrypted or no longer passes the rules is
// not in force, the snapshot runs on the fallback instead.
func (s *Store) effective(k Key, cur *Entry) string {
	if cur != nil && cur.Unreadable == "" {
		if canon, err := k.Parse(cur.Value); err == nil {
			return canon
		}
	}
	return s.fallback(k)
}

// moves reports whether a key's effective value going from before to
// after sends what it carries somewhere new. An empty value sends nothing
// anywhere (the integration is off), so clearing is not a move.
func moves(before, after string) bool { return after != before && after != "" }

// nextVersion is the version a newly inserted row of key starts at: one
// more than any version the key's audit trail holds, so a key deleted and
// created again never reuses a version (and an ETag taken before the
// delete cannot match the new row). Read inside the writing transaction,
// which must hold the revision row (lockRevision): no other change can
// commit until it ends.
func (s *Store) nextVersion(ctx context.Context, tx *sql.Tx, key string) (int64, error) {
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT MAX(version) FROM config_audit WHERE config_key = ?`), key).Scan(&v); err != nil {
		return 0, unavailable("read versions of "+key, err)
	}
	return v.Int64 + 1, nil
}

// write stores canon (already validated) for key inside tx and records it
// in the audit trail; cur is the locked row, nil when absent. The caller
// bumps the revision.
func (s *Store) write(ctx context.Context, tx *sql.Tx, k Key, cur *Entry, canon, action string, o Origin, now time.Time) (Entry, error) {
	stored := canon
	if k.Sensitive {
		var err error
		if stored, err = s.sealer.Load().Seal(k.Name, canon); err != nil {
			return Entry{}, err
		}
	}
	out := Entry{Key: k.Name, Value: canon, Type: k.Type, Category: k.Category, Description: k.Description,
		Sensitive: k.Sensitive, LastUpdated: now, UpdatedBy: o.Actor}
	var old *string
	if cur != nil {
		action = ActionUpdate
		res, err := tx.ExecContext(ctx, s.q(`UPDATE config SET config_value = ?, config_type = ?, category = ?, description = ?,
			is_sensitive = ?, last_updated = ?, updated_by = ?, version = version + 1
			WHERE config_key = ? AND version = ?`),
			stored, k.Type, k.Category, k.Description, k.Sensitive, now, o.Actor, k.Name, cur.Version)
		if err != nil {
			return Entry{}, unavailable("update config "+k.Name, err)
		}
		if n, err := res.RowsAffected(); err == nil && n != 1 {
			return Entry{}, &ConflictError{Key: k.Name, Current: cur.Version}
		}
		out.CreatedAt, out.Version = cur.CreatedAt, cur.Version+1
		old = strPtr(cur.Shown())
	} else {
		version, err := s.nextVersion(ctx, tx, k.Name)
		if err != nil {
			return Entry{}, err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO config (config_key, config_value, config_type, category, description,
			is_sensitive, last_updated, updated_by, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			k.Name, stored, k.Type, k.Category, k.Description, k.Sensitive, now, o.Actor, now, version)
		if err != nil {
			if isUnique(err) {
				return Entry{}, &ConflictError{Key: k.Name}
			}
			return Entry{}, unavailable("insert config "+k.Name, err)
		}
		out.CreatedAt, out.Version = now, version
	}
	return out, s.insertAudit(ctx, tx, out.Key, action, o, old, strPtr(out.Shown()), out.Version, now)
}

// drop deletes the locked row cur inside tx and records it in the audit
// trail under the next version. The caller bumps the revision.
func (s *Store) drop(ctx context.Context, tx *sql.Tx, cur Entry, o Origin, now time.Time) error {
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM config WHERE config_key = ? AND version = ?`), cur.Key, cur.Version)
	if err != nil {
		return unavailable("delete config "+cur.Key, err)
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return &ConflictError{Key: cur.Key, Current: cur.Version}
	}
	return s.insertAudit(ctx, tx, cur.Key, ActionDelete, o, strPtr(cur.Shown()), nil, cur.Version+1, now)
}

// History returns the audit records of key, newest first.
func (s *Store) History(ctx context.Context, key string, limit int) ([]AuditRecord, error) {
	return s.audits(ctx, "config history "+key, `WHERE config_key = ?`, limit, key)
}

// Recent returns the latest audit records of every key, newest first.
func (s *Store) Recent(ctx context.Context, limit int) ([]AuditRecord, error) {
	return s.audits(ctx, "config audit log", ``, limit)
}

func (s *Store) audits(ctx context.Context, op, where string, limit int, args ...any) ([]AuditRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, config_key, action, actor, request_id, client_ip, old_value, new_value, version, created_at
		FROM config_audit `+where+` ORDER BY id DESC LIMIT `+strconv.Itoa(limit)), args...)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var a AuditRecord
		var rid, ip, oldV, newV sql.NullString
		if err := rows.Scan(&a.ID, &a.Key, &a.Action, &a.Actor, &rid, &ip, &oldV, &newV, &a.Version, &a.At); err != nil {
			return nil, unavailable(op, err)
		}
		a.RequestID, a.ClientIP, a.At = rid.String, ip.String, a.At.UTC()
		if oldV.Valid {
			a.OldValue = &oldV.String
		}
		if newV.Valid {
			a.NewValue = &newV.String
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return out, nil
}

// insertAudit writes one audit record; the caller bumps the revision once
// per transaction.
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, key, action string, o Origin, oldV, newV *string, version int64, at time.Time) error {
	actor := o.Actor
	if actor == "" {
		actor = "unknown"
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO config_audit (config_key, action, actor, request_id, client_ip, old_value, new_value, version, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), key, action, actor, nullable(o.RequestID), nullable(o.ClientIP), oldV, newV, version, at)
	if err != nil {
		return unavailable("write audit record for "+key, err)
	}
	return nil
}

// bump advances the revision counter and, on PostgreSQL, notifies the
// other replicas; both take effect at commit.
func (s *Store) bump(ctx context.Context, tx *sql.Tx) error {
	if s.dialect == "postgres" {
		// One round trip for both, as every write holds the revision row
		// while it waits on the network.
		if _, err := tx.ExecContext(ctx, `WITH b AS (UPDATE config_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision)
			SELECT pg_notify('`+NotifyChannel+`', '') FROM b`); err != nil {
			return unavailable("bump config revision and notify", err)
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE config_revision SET revision = revision + 1 WHERE id = 1`); err != nil {
		return unavailable("bump config revision", err)
	}
	return nil
}

// storeTurns is how many of the store's transactions may be open at once.
const storeTurns = 2

// txAttempts bounds how often inTx runs a transaction the database chose
// as a deadlock victim.
const txAttempts = 5

// inTx runs fn in a transaction. A transaction the database aborted to
// break a deadlock or a serialization conflict is run again from the
// start (fn must be safe to repeat). The store's own writes take the
// revision row first and so do not deadlock each other; this is for
// whatever else shares the database.
func (s *Store) inTx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, op, fn)
		if err == nil || attempt == txAttempts || !isRetryable(err) {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt) * time.Duration(1+rand.IntN(5)) * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// inSharedTx runs a change like inTx, except that on SQLite, when the
// writer is a TxRunner, the change may commit in one transaction with the
// other changes queued at the same time (one fsync for all), each in a
// savepoint of its own. Every change reads and bumps the revision and
// checks versions inside that transaction, after the changes before it, so
// each sees the state the previous ones left, exactly as if they had
// committed one by one. The store's limit of two transactions at a time
// does not apply there: it would keep batches to two. fn must run its
// statements on the context it is given, which the batch does not cancel
// when the caller leaves after fn has started. RotateKey keeps inTx, a
// transaction of its own: a change sharing its batch would be sealed with
// the key being replaced.
func (s *Store) inSharedTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	r, ok := s.writer.(TxRunner)
	if !ok || s.dialect != "sqlite" {
		return s.inTx(ctx, op, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	refused := false
	err := r.RunTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ferr := fn(ctx, tx)
		refused = ferr != nil
		return ferr
	})
	switch {
	case err == nil:
		return nil
	case refused: // the change's own answer (a conflict, a bad value...)
		return err
	case isUnique(err):
		return fmt.Errorf("%s: %w", op, ErrConflict)
	}
	return unavailable(op, err)
}

func (s *Store) tryTx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return unavailable(op, ctx.Err())
	}
	defer func() { <-s.turn }()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		if isUnique(err) {
			return fmt.Errorf("%s: %w", op, ErrConflict)
		}
		return unavailable(op, err)
	}
	return nil
}

// isRetryable reports a deadlock victim or serialization failure: MySQL
// error 1213, PostgreSQL SQLSTATE 40001 and 40P01.
func isRetryable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Error 1213") || strings.Contains(msg, "SQLSTATE 40001") ||
		strings.Contains(msg, "SQLSTATE 40P01")
}

func isUnique(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "UNIQUE constraint failed") ||
		strings.Contains(msg, "Error 1062")
}

func strPtr(s string) *string { return &s }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
