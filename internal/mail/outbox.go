package mail

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rookery/rookery/internal/db"
)

// The statuses of an outbox row.
const (
	StatusQueued = "queued"
	StatusSent   = "sent"
	StatusFailed = "failed"
)

// Sealer protects message bodies at rest (they can carry one-time links);
// config.Sealer satisfies it.
type Sealer interface {
	Seal(name, plaintext string) (string, error)
	Open(name, stored string) (string, error)
}

// sealName binds sealed bodies to this table.
const sealName = "email_outbox"

// Outbox is the email_outbox table: messages written in the transaction
// that causes them, sent later by a Worker.
type Outbox struct {
	db     *db.DB
	sealer Sealer
	now    func() time.Time
}

// NewOutbox returns the outbox of d. Bodies are sealed with sealer.
func NewOutbox(d *db.DB, sealer Sealer) *Outbox {
	return &Outbox{db: d, sealer: sealer, now: time.Now}
}

type body struct {
	Text string `json:"text"`
	HTML string `json:"html"`
}

// Queue writes m in tx, due now. The caller commits; nothing is sent
// before it does, and nothing is lost once it has.
func (o *Outbox) Queue(ctx context.Context, tx *sql.Tx, m Message) error {
	return o.insert(ctx, tx, m, StatusQueued, 0, "", 0)
}

// Record writes a message that was sent (or refused) at once, outside
// the worker (a test send), so the outbox lists it too.
func (o *Outbox) Record(ctx context.Context, m Message, sendErr error) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record email: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	status, lastErr, sentAt := StatusSent, "", o.now().UnixMilli()
	if sendErr != nil {
		status, lastErr, sentAt = StatusFailed, sendErr.Error(), 0
	}
	m.Text, m.HTML = "", "" // sent or refused: the body is not needed again
	if err := o.insert(ctx, tx, m, status, 1, lastErr, sentAt); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record email: %w", err)
	}
	return nil
}

func (o *Outbox) insert(ctx context.Context, tx *sql.Tx, m Message, status string, attempts int, lastErr string, sentAt int64) error {
	b, err := json.Marshal(body{Text: m.Text, HTML: m.HTML})
	if err != nil {
		return fmt.Errorf("queue email: %w", err)
	}
	sealed := ""
	if m.Text != "" || m.HTML != "" {
		if sealed, err = o.sealer.Seal(sealName, string(b)); err != nil {
			return fmt.Errorf("queue email: seal body: %w", err)
		}
	}
	if m.MessageID == "" {
		m.MessageID = NewMessageID()
	}
	now := o.now().UnixMilli()
	var lastAttempt, sent, errText any
	if attempts > 0 {
		lastAttempt = now
	}
	if sentAt > 0 {
		sent = sentAt
	}
	if lastErr != "" {
		errText = cut(lastErr, 500)
	}
	_, err = tx.ExecContext(ctx, o.db.Rebind(`INSERT INTO email_outbox
		(kind, recipient, subject, body, message_id, status, attempts, next_attempt_at, last_attempt_at, last_error, created_at, sent_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		string(m.Kind), m.To, cut(m.Subject, 500), sealed, m.MessageID, status, attempts, now, lastAttempt, errText, now, sent)
	if err != nil {
		return fmt.Errorf("queue email to %s: %w", m.To, err)
	}
	return nil
}

// cut shortens s to at most n bytes on a character boundary (PostgreSQL
// refuses broken UTF-8).
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Entry is one message as the outbox lists it, without its body.
type Entry struct {
	ID            int64      `json:"id"`
	Kind          string     `json:"kind"`
	To            string     `json:"to"`
	Subject       string     `json:"subject"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

// List returns the newest messages first, at most limit of them.
func (o *Outbox) List(ctx context.Context, limit int) ([]Entry, error) {
	rows, err := o.db.QueryContext(ctx, o.db.Rebind(`SELECT id, kind, recipient, subject, status, attempts, last_error, created_at, sent_at, next_attempt_at
		FROM email_outbox ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("list email outbox: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var lastErr sql.NullString
		var created, next int64
		var sent sql.NullInt64
		if err := rows.Scan(&e.ID, &e.Kind, &e.To, &e.Subject, &e.Status, &e.Attempts, &lastErr, &created, &sent, &next); err != nil {
			return nil, fmt.Errorf("list email outbox: %w", err)
		}
		e.LastError = lastErr.String
		e.CreatedAt = time.UnixMilli(created).UTC()
		if sent.Valid {
			t := time.UnixMilli(sent.Int64).UTC()
			e.SentAt = &t
		}
		if e.Status == StatusQueued {
			t := time.UnixMilli(next).UTC()
			e.NextAttemptAt = &t
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Stats is the outbox's state for the integrations page.
type Stats struct {
	Queued, Sent, Failed int
	// LastError is the error of the latest attempt, "" when it succeeded.
	LastError  string
	LastSentAt *time.Time
}

// Stats counts the messages by status and reports the latest attempt.
func (o *Outbox) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	rows, err := o.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM email_outbox GROUP BY status`)
	if err != nil {
		return st, fmt.Errorf("count email outbox: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return st, fmt.Errorf("count email outbox: %w", err)
		}
		switch status {
		case StatusQueued:
			st.Queued = n
		case StatusSent:
			st.Sent = n
		case StatusFailed:
			st.Failed = n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("count email outbox: %w", err)
	}
	var lastErr sql.NullString
	err = o.db.QueryRowContext(ctx, `SELECT last_error FROM email_outbox WHERE last_attempt_at IS NOT NULL ORDER BY last_attempt_at DESC, id DESC LIMIT 1`).Scan(&lastErr)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("read email outbox: %w", err)
	}
	st.LastError = lastErr.String
	var sent sql.NullInt64
	if err := o.db.QueryRowContext(ctx, `SELECT MAX(sent_at) FROM email_outbox`).Scan(&sent); err != nil {
		return st, fmt.Errorf("read email outbox: %w", err)
	}
	if sent.Valid {
		t := time.UnixMilli(sent.Int64).UTC()
		st.LastSentAt = &t
	}
	return st, nil
}

// claimed is a message a worker holds the lease of.
type claimed struct {
	id        int64
	msg       Message
	attempts  int // including this one
	createdAt time.Time
}

// lock is the row-locking suffix of the claim: replicas on PostgreSQL and
// MySQL skip the rows another one holds; SQLite has one writer, whose
// transaction is the lock.
func (o *Outbox) lock() string {
	if o.db.Dialect == db.SQLite {
		return ""
	}
	return " FOR UPDATE SKIP LOCKED"
}

// claim takes the oldest due message that nobody holds, for lease; ok is
// false when there is none.
func (o *Outbox) claim(ctx context.Context, lease time.Duration) (c claimed, ok bool, err error) {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return c, false, fmt.Errorf("claim email: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := o.now().UnixMilli()
	var sealed string
	var created int64
	err = tx.QueryRowContext(ctx, o.db.Rebind(`SELECT id, kind, recipient, subject, body, message_id, attempts, created_at FROM email_outbox
		WHERE status = ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
		ORDER BY next_attempt_at, id LIMIT 1`+o.lock()), StatusQueued, now, now).
		Scan(&c.id, &c.msg.Kind, &c.msg.To, &c.msg.Subject, &sealed, &c.msg.MessageID, &c.attempts, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("claim email: %w", err)
	}
	// The condition repeats the check, so that where the SELECT locks
	// nothing only one claimant's update matches.
	res, err := tx.ExecContext(ctx, o.db.Rebind(`UPDATE email_outbox SET claimed_until = ?, attempts = attempts + 1, last_attempt_at = ?
		WHERE id = ? AND status = ? AND (claimed_until IS NULL OR claimed_until < ?)`),
		o.now().Add(lease).UnixMilli(), now, c.id, StatusQueued, now)
	if err != nil {
		return c, false, fmt.Errorf("claim email %d: %w", c.id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return c, false, nil
	}
	if err := tx.Commit(); err != nil {
		return c, false, fmt.Errorf("claim email %d: %w", c.id, err)
	}
	c.attempts++
	c.createdAt = time.UnixMilli(created)
	if sealed != "" {
		plain, err := o.sealer.Open(sealName, sealed)
		if err != nil {
			return c, true, fmt.Errorf("open email %d: %w", c.id, err)
		}
		var b body
		if err := json.Unmarshal([]byte(plain), &b); err != nil {
			return c, true, fmt.Errorf("open email %d: %w", c.id, err)
		}
		c.msg.Text, c.msg.HTML = b.Text, b.HTML
	}
	return c, true, nil
}

// sent records the delivery of a claimed message and drops its body.
func (o *Outbox) sent(ctx context.Context, id int64) error {
	_, err := o.db.ExecContext(ctx, o.db.Rebind(`UPDATE email_outbox SET status = ?, sent_at = ?, claimed_until = NULL, last_error = NULL, body = ? WHERE id = ?`),
		StatusSent, o.now().UnixMilli(), "", id)
	if err != nil {
		return fmt.Errorf("record delivery of email %d: %w", id, err)
	}
	return nil
}

// retry records a failed attempt and when to try again.
func (o *Outbox) retry(ctx context.Context, id int64, next time.Time, reason string) error {
	_, err := o.db.ExecContext(ctx, o.db.Rebind(`UPDATE email_outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?`),
		next.UnixMilli(), cut(reason, 500), id)
	if err != nil {
		return fmt.Errorf("record failure of email %d: %w", id, err)
	}
	return nil
}

// fail gives a message up and drops its body.
func (o *Outbox) fail(ctx context.Context, id int64, reason string) error {
	_, err := o.db.ExecContext(ctx, o.db.Rebind(`UPDATE email_outbox SET status = ?, claimed_until = NULL, last_error = ?, body = ? WHERE id = ?`),
		StatusFailed, cut(reason, 500), "", id)
	if err != nil {
		return fmt.Errorf("record failure of email %d: %w", id, err)
	}
	return nil
}

// expire gives up the queued messages older than maxAge that nobody holds
// (they waited for settings that never came), and says how many.
func (o *Outbox) expire(ctx context.Context, maxAge time.Duration) (int64, error) {
	now := o.now()
	res, err := o.db.ExecContext(ctx, o.db.Rebind(`UPDATE email_outbox SET status = ?, body = ?,
		last_error = COALESCE(last_error, ?) WHERE status = ? AND created_at < ? AND (claimed_until IS NULL OR claimed_until < ?)`),
		StatusFailed, "", fmt.Sprintf("given up after %d hours without an attempt: email was not configured", int(maxAge.Hours())), StatusQueued, now.Add(-maxAge).UnixMilli(), now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("expire old email: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// purge deletes the sent and failed messages created before now-age.
func (o *Outbox) purge(ctx context.Context, age time.Duration) (int64, error) {
	res, err := o.db.ExecContext(ctx, o.db.Rebind(`DELETE FROM email_outbox WHERE status <> ? AND created_at < ?`),
		StatusQueued, o.now().Add(-age).UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purge old email: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// due reports whether some message is waiting to be sent now.
func (o *Outbox) due(ctx context.Context) (bool, error) {
	now := o.now().UnixMilli()
	var n int
	err := o.db.QueryRowContext(ctx, o.db.Rebind(`SELECT COUNT(*) FROM email_outbox WHERE status = ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)`),
		StatusQueued, now, now).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look for due email: %w", err)
	}
	return n > 0, nil
}
