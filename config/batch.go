package config

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// AnyRevision applies a batch whatever the current revision.
const AnyRevision int64 = -1

// Edit is one change of a batch: a value to store, or Remove to delete the
// stored row (the key falls back to its environment variable, then its
// default).
type Edit struct {
	Key    string
	Value  string
	Remove bool
}

// Applied is what one edit of a batch did.
type Applied struct {
	Key     string
	Removed bool
	// Entry is the stored row after the change (its Version is the new
	// version); zero when Removed.
	Entry Entry
}

// BatchResult is the outcome of Apply.
type BatchResult struct {
	// Applied lists the changed keys in key order. Removing a key that is
	// not stored changes nothing and is not listed.
	Applied []Applied
	// Revision is the whole-config revision after the batch.
	Revision int64
}

// step is one validated edit.
type step struct {
	edit  Edit
	key   Key    // the declaration, or the stored row's own for undeclared keys
	cur   *Entry // the stored row, nil when absent
	canon string // the canonical value to store
	skip  bool   // removal of a key that is not stored
}

// querier is what plan reads through: the database, or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Apply validates every edit, then applies them all in one transaction
// with one audit record per key (all carrying o's request id) and one
// revision bump. Every refused key is reported at once in a BatchError and
// nothing is written. ifRevision is AnyRevision or the whole-config
// revision the caller last saw: when the configuration moved since, the
// batch fails with a RevisionConflictError. Changing a key that carries
// secrets (Key.Carries) while one of them is set requires the batch to set
// that secret too, else a SecretReentryError.
func (s *Store) Apply(ctx context.Context, edits []Edit, ifRevision int64, o Origin) (BatchResult, error) {
	sorted, err := sortEdits(edits)
	if err != nil {
		return BatchResult{}, err
	}
	var res BatchResult
	err = s.inSharedTx(ctx, "apply config changes", func(ctx context.Context, tx *sql.Tx) error {
		res = BatchResult{} // the transaction may run again
		rev, err := s.lockRevision(ctx, tx)
		if err != nil {
			return err
		}
		steps, problems, err := s.plan(ctx, tx, sorted, true)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return &BatchError{Problems: problems}
		}
		if ifRevision != AnyRevision && rev != ifRevision {
			return &RevisionConflictError{Expected: ifRevision, Current: rev}
		}
		redirects := map[string]bool{}
		given := map[string]Edit{}
		for _, st := range steps {
			given[st.edit.Key] = st.edit
			if st.skip {
				continue
			}
			after := st.canon
			if st.edit.Remove {
				after = s.fallback(st.key)
			}
			redirects[st.edit.Key] = moves(s.effective(st.key, st.cur), after)
		}
		if err := s.checkReentry(ctx, tx, redirects, given); err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		for _, st := range steps {
			switch {
			case st.skip:
			case st.edit.Remove:
				if err := s.drop(ctx, tx, *st.cur, o, now); err != nil {
					return err
				}
				res.Applied = append(res.Applied, Applied{Key: st.edit.Key, Removed: true})
			default:
				e, err := s.write(ctx, tx, st.key, st.cur, st.canon, ActionCreate, o, now)
				if err != nil {
					return err
				}
				res.Applied = append(res.Applied, Applied{Key: st.edit.Key, Entry: e})
			}
		}
		res.Revision = rev
		if len(res.Applied) == 0 {
			return nil
		}
		if err := s.bump(ctx, tx); err != nil {
			return err
		}
		res.Revision = rev + 1 // the revision row is locked: nobody else moved it
		return nil
	})
	if err != nil {
		return BatchResult{}, err
	}
	return res, nil
}

// Validate reports what Apply would refuse in edits, key by key, without
// writing anything (nil when every edit is acceptable now).
func (s *Store) Validate(ctx context.Context, edits []Edit) (map[string]string, error) {
	sorted, err := sortEdits(edits)
	if err != nil {
		var be *BatchError
		if errors.As(err, &be) {
			return be.Problems, nil
		}
		return nil, err
	}
	_, problems, err := s.plan(ctx, s.db, sorted, false)
	return problems, err
}

// sortEdits copies edits in key order and refuses a key named twice.
func sortEdits(edits []Edit) ([]Edit, error) {
	if len(edits) == 0 {
		return nil, fmt.Errorf("%w: the change names no key", ErrInvalid)
	}
	sorted := append([]Edit(nil), edits...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	problems := map[string]string{}
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Key == sorted[i-1].Key {
			problems[sorted[i].Key] = "is given more than once"
		}
	}
	if len(problems) > 0 {
		return nil, &BatchError{Problems: problems}
	}
	return sorted, nil
}

// plan reads the stored row of every edited key (locking it when lock is
// set, inside a transaction) and validates every edit, collecting every
// problem instead of stopping at the first.
func (s *Store) plan(ctx context.Context, q querier, edits []Edit, lock bool) ([]step, map[string]string, error) {
	steps := make([]step, 0, len(edits))
	problems := map[string]string{}
	for _, ed := range edits {
		cur, err := s.readRow(ctx, q, ed.Key, lock)
		if err != nil {
			return nil, nil, err
		}
		k, declared := s.reg.Lookup(ed.Key)
		switch {
		case !declared && cur == nil:
			problems[ed.Key] = "is not a known setting"
			continue
		case !declared:
			k = rowKey(*cur)
		}
		st := step{edit: ed, key: k, cur: cur}
		switch {
		case ed.Remove && cur == nil:
			st.skip = true // nothing stored: already on its fallback
		case ed.Remove && cur.Unreadable != "":
			problems[ed.Key] = "has a stored value that cannot be decrypted; set a new value, or remove it with: rookery config delete " + ed.Key + " --force"
			continue
		case !ed.Remove:
			canon, err := k.Parse(ed.Value)
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					return nil, nil, err
				}
				problems[ed.Key] = ve.Reason
				continue
			}
			st.canon = canon
		}
		steps = append(steps, st)
	}
	return steps, problems, nil
}

// readRow reads key's stored row, nil when it is not stored; lock takes the
// row lock (q must then be a transaction).
func (s *Store) readRow(ctx context.Context, q querier, key string, lock bool) (*Entry, error) {
	query := `SELECT ` + entryColumns + ` FROM config WHERE config_key = ?`
	if lock {
		query += s.forUpdate()
	}
	cur, err := s.scanEntry(q.QueryRowContext(ctx, s.q(query), key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read config "+key, err)
	}
	return &cur, nil
}

// lockRevision reads the revision counter and holds its row until the
// transaction ends. Every write transaction of the store takes it first:
// config writes are rare, and running them one at a time is what keeps
// them simple and free of lock-order deadlocks. It makes the revision a
// batch checked the one it bumps, and it guards what no row lock can: the
// absence of a key. Without it, between a creator's read of the key's
// highest audited version and its insert, another writer could create and
// delete the key, and a version would be used twice. On PostgreSQL and
// MySQL the reads that follow it see every change committed before.
func (s *Store) lockRevision(ctx context.Context, tx *sql.Tx) (int64, error) {
	var rev int64
	if err := tx.QueryRowContext(ctx, `SELECT revision FROM config_revision WHERE id = 1`+s.forUpdate()).Scan(&rev); err != nil {
		return 0, unavailable("read config revision", err)
	}
	return rev, nil
}

// checkReentry enforces Key.Carries inside the writing transaction.
// redirects maps each changed key to whether its effective value moves;
// given holds every edit of the change. A secret carried by a key that
// moves must be given in the same change when, after the change, it would
// still hold a value the change did not provide: a value that is stored
// (or stored but unreadable, which a later fix of the keys would bring
// back), or one from the environment or default, which also remains after
// the stored row is removed.
func (s *Store) checkReentry(ctx context.Context, tx *sql.Tx, redirects map[string]bool, given map[string]Edit) error {
	need := map[string]bool{}
	var changed []string
	for name, moves := range redirects {
		k, ok := s.reg.Lookup(name)
		if !moves || !ok {
			continue
		}
		hit := false
		for _, secret := range k.Carries {
			sk, _ := s.reg.Lookup(secret) // the registry checked it is declared
			var set bool
			switch e, ok := given[secret]; {
			case ok && !e.Remove:
				continue // given again
			case ok && e.Remove:
				set = s.fallback(sk) != ""
			default:
				cur, err := s.readRow(ctx, tx, secret, false)
				if err != nil {
					return err
				}
				set = cur != nil && (cur.Unreadable != "" || cur.Value != "") || cur == nil && s.fallback(sk) != ""
			}
			if set {
				need[secret], hit = true, true
			}
		}
		if hit {
			changed = append(changed, name)
		}
	}
	if len(need) == 0 {
		return nil
	}
	secrets := make([]string, 0, len(need))
	for k := range need {
		secrets = append(secrets, k)
	}
	sort.Strings(secrets)
	sort.Strings(changed)
	return &SecretReentryError{Changed: changed, Secrets: secrets}
}
