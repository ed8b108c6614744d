// Package teams is the minimal team model the licence tiers speak of: a
// named group of users.
package teams

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rookery/rookery/internal/db"
)

// Errors callers map to HTTP codes.
var (
	ErrInvalid     = errors.New("invalid team")
	ErrExists      = errors.New("a team with that name already exists")
	ErrNotFound    = errors.New("team not found")
	ErrUnavailable = errors.New("team database unavailable")
)

// Team is a stored team with its members' user ids.
type Team struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Members   []int64   `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

// Store keeps teams.
type Store struct{ db *db.DB }

// NewStore wraps a migrated database.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

func unavailable(err error) error { return fmt.Errorf("%w: %v", ErrUnavailable, err) }

// Count returns the number of teams.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM teams`).Scan(&n); err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

// List returns every team with its members, ordered by id.
func (s *Store) List(ctx context.Context) ([]Team, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created_at FROM teams ORDER BY id`)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []Team
	index := map[int64]int{}
	for rows.Next() {
		var t Team
		if err := rows.Scan(&t.ID, &t.Name, &t.CreatedAt); err != nil {
			rows.Close()
			return nil, unavailable(err)
		}
		t.CreatedAt, t.Members = t.CreatedAt.UTC(), []int64{}
		index[t.ID] = len(out)
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	mrows, err := s.db.QueryContext(ctx, `SELECT team_id, user_id FROM team_members ORDER BY team_id, user_id`)
	if err != nil {
		return nil, unavailable(err)
	}
	defer mrows.Close()
	for mrows.Next() {
		var tid, uid int64
		if err := mrows.Scan(&tid, &uid); err != nil {
			return nil, unavailable(err)
		}
		if i, ok := index[tid]; ok {
			out[i].Members = append(out[i].Members, uid)
		}
	}
	return out, mrows.Err()
}

// Create adds a team with the given members (user ids), in one
// transaction. allow, when set, may refuse it given the current count.
func (s *Store) Create(ctx context.Context, name string, members []int64, allow func(existing int) error) (Team, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return Team{}, fmt.Errorf("%w: the name must be 1 to 100 characters", ErrInvalid)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Team{}, unavailable(err)
	}
	defer tx.Rollback()
	// The teams lock makes the count below see every team committed before
	// it, so two concurrent creates cannot both pass a one-team limit.
	if err := s.db.Lock(ctx, tx, db.LockTeams); err != nil {
		return Team{}, unavailable(err)
	}
	// And the users lock, always after the teams lock: the members checked
	// below cannot be deleted before this team is written (MySQL does not
	// enforce the foreign key that would otherwise catch it).
	if err := s.db.Lock(ctx, tx, db.LockUsers); err != nil {
		return Team{}, unavailable(err)
	}
	if allow != nil {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM teams`).Scan(&n); err != nil {
			return Team{}, unavailable(err)
		}
		if err := allow(n); err != nil {
			return Team{}, err
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO teams (name, created_at) VALUES (?, ?)`), name, now); err != nil {
		if db.IsUniqueViolation(err) {
			return Team{}, ErrExists
		}
		return Team{}, unavailable(err)
	}
	t := Team{Name: name, CreatedAt: now, Members: []int64{}}
	if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM teams WHERE name = ?`), name).Scan(&t.ID); err != nil {
		return Team{}, unavailable(err)
	}
	seen := map[int64]bool{}
	for _, uid := range members {
		if seen[uid] {
			continue
		}
		seen[uid] = true
		var one int
		err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT 1 FROM users WHERE id = ?`), uid).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return Team{}, fmt.Errorf("%w: user %d does not exist", ErrInvalid, uid)
		}
		if err != nil {
			return Team{}, unavailable(err)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO team_members (team_id, user_id) VALUES (?, ?)`), t.ID, uid); err != nil {
			return Team{}, unavailable(err)
		}
		t.Members = append(t.Members, uid)
	}
	if err := tx.Commit(); err != nil {
		return Team{}, unavailable(err)
	}
	return t, nil
}

// Delete removes a team and its memberships.
func (s *Store) Delete(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM team_members WHERE team_id = ?`), id); err != nil {
		return unavailable(err)
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM teams WHERE id = ?`), id)
	if err != nil {
		return unavailable(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := tx.Commit(); err != nil {
		return unavailable(err)
	}
	return nil
}
