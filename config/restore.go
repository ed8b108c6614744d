package config

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// historyPoint is one audit record as a restore reads it.
type historyPoint struct {
	key     string
	action  string
	value   sql.NullString // the new value, as recorded (masked for secrets)
	version int64
	at      time.Time
}

// kept reports whether the record holds the value itself: the history of a
// sensitive key keeps only a mask, and a row that could not be decrypted
// only a mark.
func (h historyPoint) kept(k Key) bool {
	return !k.Sensitive && h.value.Valid && h.value.String != Masked && h.value.String != UnreadableMark
}

// removed reports whether the key had no stored value after the record.
func (h historyPoint) removed() bool { return h.action == ActionDelete }

func (s *Store) historyPoints(ctx context.Context, where string, args ...any) ([]historyPoint, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT config_key, action, new_value, version, created_at FROM config_audit `+where+` ORDER BY id`), args...)
	if err != nil {
		return nil, unavailable("read config history", err)
	}
	defer rows.Close()
	var out []historyPoint
	for rows.Next() {
		var h historyPoint
		if err := rows.Scan(&h.key, &h.action, &h.value, &h.version, &h.at); err != nil {
			return nil, unavailable("read config history", err)
		}
		h.at = h.at.UTC()
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read config history", err)
	}
	return out, nil
}

// PlanRestoreVersion plans putting back the value key had at version
// (from its audit trail): a new change, so the version rises. A version
// whose record says the key was removed plans a removal. Sensitive values
// are never kept in the history and cannot be restored (ErrInvalid); an
// unknown version is ErrNotFound.
func (s *Store) PlanRestoreVersion(ctx context.Context, key string, version int64) (Plan, error) {
	points, err := s.historyPoints(ctx, `WHERE config_key = ? AND version = ?`, key, version)
	if err != nil {
		return Plan{}, err
	}
	if len(points) == 0 {
		return Plan{}, fmt.Errorf("%s has no version %d in its history: %w", key, version, ErrNotFound)
	}
	h := points[len(points)-1]
	entries, rev, err := s.List(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("plan restore of %s: %w", key, err)
	}
	var cur *Entry
	for i := range entries {
		if entries[i].Key == key {
			cur = &entries[i]
		}
	}
	k, declared := s.reg.Lookup(key)
	switch {
	case !declared && cur == nil:
		return Plan{}, fmt.Errorf("%w: %s is not a known setting", ErrInvalid, key)
	case !declared:
		k = rowKey(*cur)
	}
	plan := Plan{Revision: rev, Changes: []PlannedChange{}}
	change, skip, err := s.restoreStep(k, cur, &h)
	if err != nil {
		return Plan{}, err
	}
	if skip != "" {
		return Plan{}, fmt.Errorf("%w: %s %s", ErrInvalid, key, skip)
	}
	if change != nil {
		plan.Changes = append(plan.Changes, *change)
	}
	return plan, nil
}

// PlanRestoreAt plans putting every key back to the value it had at the
// instant at, from the audit trail: keys stored since are removed, keys
// removed since come back, changed keys get their old value. Sensitive
// keys whose value changed since cannot be brought back (the history
// keeps no secret) and are listed in Skipped, as are keys no longer
// declared.
func (s *Store) PlanRestoreAt(ctx context.Context, at time.Time) (Plan, error) {
	points, err := s.historyPoints(ctx, ``)
	if err != nil {
		return Plan{}, err
	}
	entries, rev, err := s.List(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("plan restore: %w", err)
	}
	then := map[string]*historyPoint{} // the last record at or before at, per key
	seen := map[string]bool{}
	for i := range points {
		seen[points[i].key] = true
		if !points[i].at.After(at) {
			then[points[i].key] = &points[i]
		}
	}
	stored := map[string]*Entry{}
	for i := range entries {
		stored[entries[i].Key] = &entries[i]
		seen[entries[i].Key] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	plan := Plan{Revision: rev, Changes: []PlannedChange{}, Skipped: map[string]string{}}
	for _, name := range names {
		cur, h := stored[name], then[name]
		k, declared := s.reg.Lookup(name)
		if !declared {
			if cur == nil {
				continue // gone from the declarations and from the table
			}
			k = rowKey(*cur)
		}
		change, skip, err := s.restoreStep(k, cur, h)
		if err != nil {
			return Plan{}, err
		}
		if skip != "" {
			plan.Skipped[name] = skip
			continue
		}
		if change != nil {
			plan.Changes = append(plan.Changes, *change)
		}
	}
	return plan, nil
}

// restoreStep plans bringing k from its stored row cur (nil when absent)
// back to what record h left (nil: the key was not stored then). It
// returns no change when nothing differs, or a reason to skip.
func (s *Store) restoreStep(k Key, cur *Entry, h *historyPoint) (*PlannedChange, string, error) {
	if h == nil || h.removed() {
		if cur == nil {
			return nil, "", nil
		}
		c := removal(*cur)
		return &c, "", nil
	}
	if cur != nil && cur.Version == h.version {
		return nil, "", nil // unchanged since
	}
	if !h.kept(k) {
		if k.Sensitive {
			return nil, "is sensitive: its history keeps no value to restore; set it again", nil
		}
		return nil, "had a value that could not be decrypted then; there is nothing to restore", nil
	}
	canon, err := k.Parse(h.value.String)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, "had a value the current rules refuse (" + ve.Reason + ")", nil
		}
		return nil, "", err
	}
	if cur != nil && cur.Unreadable == "" && cur.Value == canon {
		return nil, "", nil
	}
	c := setting(k, cur, canon)
	return &c, "", nil
}
