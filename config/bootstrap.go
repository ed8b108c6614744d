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
		_, err := s.set(ctx, k.Name, raw, Absent, Origin{Actor: "system"}, true)
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

// RotateKey re-encrypts every sensitive row with next's current key, in one
// transaction, and records it in each key's history. The store's own
// sealer must be able to open the existing values; next must too (give it
// the old key as an old key) for the store to keep working afterwards.
func (s *Store) RotateKey(ctx context.Context, next *Sealer, o Origin) (int, error) {
	n := 0
	err := s.inTx(ctx, "rotate encryption key", func(tx *sql.Tx) error {
		n = 0 // the transaction may run again
		rows, err := tx.QueryContext(ctx, `SELECT `+entryColumns+` FROM config`+s.forUpdate())
		if err != nil {
			return unavailable("read config", err)
		}
		var todo []Entry
		for rows.Next() {
			e, err := s.scanEntry(rows)
			if err != nil {
				rows.Close()
				return err
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
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO config_audit (config_key, action, actor, request_id, client_ip, old_value, new_value, version, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), e.Key, ActionRekey, o.Actor, nullable(o.RequestID), nullable(o.ClientIP), &masked, &masked, e.Version, now); err != nil {
				return unavailable("audit "+e.Key, err)
			}
			n++
		}
		return s.bump(ctx, tx)
	})
	if err != nil {
		return 0, err
	}
	s.sealer = next
	return n, nil
}
