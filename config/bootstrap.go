package config

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// BootstrapResult reports what Bootstrap did, key by key.
type BootstrapResult struct {
	Inserted []string
	// Invalid maps a key to why its environment value was refused. The
	// value itself is never included.
	Invalid map[string]string
}

// Bootstrap follows the standards: for every declared key that is not in
// the database and whose environment variable is set, validate the value
// and insert it with updated_by "system". Invalid values are reported and
// not stored. Keys already stored are left alone: after the first start the
// database wins.
func (s *Store) Bootstrap(ctx context.Context, getenv func(string) string) (BootstrapResult, error) {
	res := BootstrapResult{Invalid: map[string]string{}}
	stored, _, err := s.List(ctx)
	if err != nil {
		return res, err
	}
	have := make(map[string]bool, len(stored))
	for _, e := range stored {
		have[e.Key] = true
	}
	for _, k := range s.reg.Keys() {
		raw := getenv(k.Env())
		if have[k.Name] || raw == "" {
			continue
		}
		if _, err := k.Parse(raw); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				res.Invalid[k.Name] = fmt.Sprintf("%s: %s", k.Env(), ve.Reason)
				continue
			}
			return res, err
		}
		_, err := s.set(ctx, k.Name, raw, Absent, Origin{Actor: BootstrapActor}, true)
		switch {
		case err == nil:
			res.Inserted = append(res.Inserted, k.Name)
		case errors.Is(err, ErrConflict):
			// another replica bootstrapped it first
		default:
			return res, fmt.Errorf("bootstrap %s: %w", k.Name, err)
		}
	}
	return res, nil
}

// RotateResult counts what RotateKey re-encrypted.
type RotateResult struct {
	Values     int // sensitive config values
	AppSecrets int // sealed rows of app_secrets (the token signing key...)
}

// RotateKey re-encrypts, with next's current key and in one transaction,
// every sensitive config value (recorded in each key's history) and every
// sealed row of the app_secrets table (bound to its name, as they were
// sealed): a failure anywhere leaves everything as it was, never some
// values under a key nothing reads. The store's own sealer must open the
// existing values; next must too (give it the old key as an old key) for
// the store to keep working afterwards. A value that cannot be decrypted
// stops the rotation and is named in the error.
func (s *Store) RotateKey(ctx context.Context, next *Sealer, o Origin) (RotateResult, error) {
	var res RotateResult
	err := s.inTx(ctx, "rotate encryption key", func(tx *sql.Tx) error {
		res = RotateResult{} // the transaction may run again
		if _, err := s.lockRevision(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+entryColumns+` FROM config ORDER BY config_key`+s.forUpdate())
		if err != nil {
			return unavailable("read config", err)
		}
		var todo []Entry
		for rows.Next() {
			e, err := s.scanEntry(rows)
			if err != nil {
				rows.Close()
				return unavailable("read config", err)
			}
			if e.Unreadable != "" {
				rows.Close()
				return &UnreadableError{Key: e.Key, Op: "rotate the encryption key"}
			}
			if e.Sensitive {
				todo = append(todo, e)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return unavailable("read config", err)
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		for _, e := range todo {
			sealed, err := next.Seal(e.Key, e.Value)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE config SET config_value = ?, is_sensitive = ? WHERE config_key = ?`), sealed, true, e.Key); err != nil {
				return unavailable("re-encrypt "+e.Key, err)
			}
			masked := Masked
			if err := s.insertAudit(ctx, tx, e.Key, ActionRekey, o, &masked, &masked, e.Version, now); err != nil {
				return err
			}
			res.Values++
		}
		n, err := s.resealAppSecrets(ctx, tx, next)
		if err != nil {
			return err
		}
		res.AppSecrets = n
		return s.bump(ctx, tx)
	})
	if err != nil {
		return RotateResult{}, err
	}
	s.sealer.Store(next)
	return res, nil
}

// resealAppSecrets re-encrypts every sealed row of app_secrets inside tx.
// Rows stored in the clear are not the sealer's and are left as they are.
func (s *Store) resealAppSecrets(ctx context.Context, tx *sql.Tx, next *Sealer) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, secret_value FROM app_secrets ORDER BY name`+s.forUpdate())
	if err != nil {
		return 0, unavailable("read app secrets", err)
	}
	type secret struct{ name, value string }
	var todo []secret
	for rows.Next() {
		var sc secret
		if err := rows.Scan(&sc.name, &sc.value); err != nil {
			rows.Close()
			return 0, unavailable("read app secrets", err)
		}
		if IsSealed(sc.value) {
			todo = append(todo, sc)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, unavailable("read app secrets", err)
	}
	for _, sc := range todo {
		plain, err := s.sealer.Load().Open(sc.name, sc.value)
		if err != nil {
			// The sealer's message names the row and the key id, never the value.
			return 0, fmt.Errorf("cannot rotate the encryption key: app secret %q: %w: %v", sc.name, ErrUnreadable, err)
		}
		sealed, err := next.Seal(sc.name, plain)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE app_secrets SET secret_value = ? WHERE name = ?`), sealed, sc.name); err != nil {
			return 0, unavailable("re-encrypt app secret "+sc.name, err)
		}
	}
	return len(todo), nil
}
