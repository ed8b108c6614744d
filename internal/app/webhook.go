package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rookery/rookery/backoff"
	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
)

// The configuration change webhook: after a change set commits, its audit
// records become one row of the config_webhook_outbox table (a durable
// queue), and a worker on every replica POSTs due rows to
// config_webhook_url, signed with config_webhook_secret. The change itself
// never waits for any of this: the worker reads the audit trail the store
// already writes in the change's own transaction, so an event cannot be
// lost to a crash between the commit and the send, and a receiver that is
// down gets the event, retried with backoff, when it is back.

// webhookPolicy spaces the retries of one event: 1 s, 2 s, 4 s... up to
// five minutes, forever (until the event is delivered or the URL cleared).
var webhookPolicy = backoff.Policy{First: time.Second, Max: 5 * time.Minute, Jitter: backoff.EqualJitter}

const (
	// webhookTimeout bounds one POST.
	webhookTimeout = 10 * time.Second
	// webhookLease is how long a claimed row is this replica's: longer
	// than a POST, so no other replica sends it meanwhile; a replica that
	// dies mid-send leaves a row that another one retries after it.
	webhookLease = 3 * webhookTimeout
	// webhookBatch bounds the audit records read per pass.
	webhookBatch = 500
	// webhookKeep is how long delivered rows stay, for inspection.
	webhookKeep = 7 * 24 * time.Hour
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
// under config_webhook_secret.
const SignatureHeader = "X-Rookery-Signature"

// Sign is the value of SignatureHeader for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// webhook is the worker of one replica.
type webhook struct {
	a      *App
	client *http.Client
	now    func() time.Time
	wake   chan struct{}
}

// startWebhook runs the worker among the app's loops; Shutdown stops it
// with them.
func (a *App) startWebhook(ctx context.Context) {
	w := &webhook{a: a, now: time.Now, wake: make(chan struct{}, 1),
		client: &http.Client{Timeout: webhookTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			// A redirect would send the event somewhere the setting does not name.
			return http.ErrUseLastResponse
		}}}
	// A change on this replica (or seen from another) wakes the worker at
	// once; the poll is the safety net. Never blocks the reload.
	cancel := a.Config.Subscribe(func(config.Change) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	})
	poll := a.Settings.PollInterval
	if poll <= 0 || poll > time.Second {
		poll = time.Second
	}
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		defer cancel()
		w.run(ctx, poll)
	}()
}

func (w *webhook) run(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	failing := false
	for {
		err := w.pass(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			w.a.Log.Warn("config webhook: pass failed; retrying", "error", err.Error())
			failing = true
		case err == nil && failing:
			w.a.Log.Info("config webhook: working again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// pass queues the new change sets, then sends what is due.
func (w *webhook) pass(ctx context.Context) error {
	if err := w.enqueue(ctx); err != nil {
		return err
	}
	for range 50 { // bounded, so a long backlog does not starve the queueing
		sent, err := w.deliverOne(ctx)
		if err != nil || !sent {
			return err
		}
	}
	return nil
}

func (w *webhook) d() *db.DB { return w.a.DB }

// q rewrites ? placeholders for PostgreSQL.
func (w *webhook) q(query string) string {
	if w.d().Dialect != db.Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// lock is the row-locking suffix; SQLite's write transaction is the lock.
func (w *webhook) lock(skip bool) string {
	if w.d().Dialect == db.SQLite {
		return ""
	}
	if skip {
		return " FOR UPDATE SKIP LOCKED"
	}
	return " FOR UPDATE"
}

// begin starts a transaction. On SQLite it writes first, taking the
// database's write lock at once: a transaction that reads and only then
// writes can be refused its upgrade when another writer got in between.
func (w *webhook) begin(ctx context.Context) (*sql.Tx, error) {
	tx, err := w.d().BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("config webhook: begin: %w", err)
	}
	if w.d().Dialect == db.SQLite {
		if _, err := tx.ExecContext(ctx, `UPDATE config_webhook_cursor SET last_audit_id = last_audit_id WHERE id = 1`); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("config webhook: take the write lock: %w", err)
		}
	}
	return tx, nil
}

// webhookChange is one key of an event; secrets are masked as in the
// audit trail they come from.
type webhookChange struct {
	Key string    `json:"key"`
	Old *string   `json:"old"`
	New *string   `json:"new"`
	By  string    `json:"by"`
	At  time.Time `json:"at"`
}

type webhookEvent struct {
	ChangeID string          `json:"change_id"`
	Changes  []webhookChange `json:"changes"`
}

type auditRow struct {
	id        int64
	key       string
	action    string
	actor     string
	requestID sql.NullString
	old, new  sql.NullString
	at        time.Time
}

// enqueue turns the audit records past the cursor into outbox rows, one
// per change set, and moves the cursor, in one transaction that holds the
// cursor row (so two replicas never queue the same records). Every store
// write holds the revision row while it writes its audit records, so
// their ids grow in commit order and nothing can appear behind the
// cursor. With no URL set, the records are passed over: there is nowhere
// to send them.
func (w *webhook) enqueue(ctx context.Context) error {
	// Most passes find nothing new: find that out with two plain reads,
	// without a write transaction (on SQLite, the one writer's turn).
	var cursor int64
	var newest sql.NullInt64
	if err := w.d().QueryRowContext(ctx, `SELECT last_audit_id FROM config_webhook_cursor WHERE id = 1`).Scan(&cursor); err != nil {
		return fmt.Errorf("config webhook: read cursor: %w", err)
	}
	if err := w.d().QueryRowContext(ctx, `SELECT MAX(id) FROM config_audit`).Scan(&newest); err != nil {
		return fmt.Errorf("config webhook: read audit trail: %w", err)
	}
	if newest.Int64 <= cursor {
		return nil
	}
	tx, err := w.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT last_audit_id FROM config_webhook_cursor WHERE id = 1`+w.lock(false)).Scan(&last); err != nil {
		return fmt.Errorf("config webhook: read cursor: %w", err)
	}
	rows, err := tx.QueryContext(ctx, w.q(`SELECT id, config_key, action, actor, request_id, old_value, new_value, created_at
		FROM config_audit WHERE id > ? ORDER BY id LIMIT `+strconv.Itoa(webhookBatch)), last)
	if err != nil {
		return fmt.Errorf("config webhook: read audit trail: %w", err)
	}
	var recs []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.id, &r.key, &r.action, &r.actor, &r.requestID, &r.old, &r.new, &r.at); err != nil {
			rows.Close()
			return fmt.Errorf("config webhook: read audit trail: %w", err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("config webhook: read audit trail: %w", err)
	}
	if len(recs) == 0 {
		return nil
	}
	groups := groupChanges(recs)
	if len(recs) == webhookBatch && len(groups) > 1 {
		// The last change set may continue past the batch: leave it for
		// the next pass, whole.
		groups = groups[:len(groups)-1]
	}
	send := w.a.Keys.ConfigWebhook.URL.Get() != ""
	now := w.now().UnixMilli()
	for _, g := range groups {
		last = g[len(g)-1].id
		if !send {
			continue
		}
		ev := webhookEvent{ChangeID: changeID(g[0]), Changes: []webhookChange{}}
		for _, r := range g {
			if r.action == config.ActionRekey {
				continue // a re-encryption changes no value
			}
			c := webhookChange{Key: r.key, By: r.actor, At: r.at.UTC()}
			if r.old.Valid {
				c.Old = &r.old.String
			}
			if r.new.Valid {
				c.New = &r.new.String
			}
			ev.Changes = append(ev.Changes, c)
		}
		if len(ev.Changes) == 0 {
			continue
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("config webhook: encode event: %w", err)
		}
		if _, err := tx.ExecContext(ctx, w.q(`INSERT INTO config_webhook_outbox (first_audit_id, change_id, payload, attempts, next_attempt_at, created_at)
			VALUES (?, ?, ?, 0, ?, ?)`), g[0].id, ev.ChangeID, string(body), now, now); err != nil {
			return fmt.Errorf("config webhook: queue change %s: %w", ev.ChangeID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, w.q(`UPDATE config_webhook_cursor SET last_audit_id = ? WHERE id = 1`), last); err != nil {
		return fmt.Errorf("config webhook: move cursor: %w", err)
	}
	if _, err := tx.ExecContext(ctx, w.q(`DELETE FROM config_webhook_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?`),
		w.now().Add(-webhookKeep).UnixMilli()); err != nil {
		return fmt.Errorf("config webhook: forget old events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("config webhook: commit queue: %w", err)
	}
	return nil
}

// groupChanges splits audit records into change sets: the records of one
// transaction share their request id and their instant (the store stamps
// a whole change with one time), and follow each other.
func groupChanges(recs []auditRow) [][]auditRow {
	var out [][]auditRow
	for i, r := range recs {
		if i > 0 {
			p := recs[i-1]
			if r.requestID.Valid && p.requestID == r.requestID && p.at.Equal(r.at) {
				out[len(out)-1] = append(out[len(out)-1], r)
				continue
			}
		}
		out = append(out, []auditRow{r})
	}
	return out
}

// changeID names a change set: its request id (what its audit records
// carry), or for changes without one (start-up) its first record.
func changeID(r auditRow) string {
	if r.requestID.Valid && r.requestID.String != "" {
		return r.requestID.String
	}
	return "audit-" + strconv.FormatInt(r.id, 10)
}

// deliverOne claims the oldest due event (FOR UPDATE SKIP LOCKED, so
// replicas claim different rows, and a lease so no other replica takes it
// while it is being sent), sends it and records the outcome. It reports
// whether there was one.
func (w *webhook) deliverOne(ctx context.Context) (bool, error) {
	url := w.a.Keys.ConfigWebhook.URL.Get()
	if url == "" {
		return false, nil // kept until a URL is set again
	}
	var due int
	err := w.d().QueryRowContext(ctx, w.q(`SELECT COUNT(*) FROM config_webhook_outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?`),
		w.now().UnixMilli()).Scan(&due)
	if err != nil || due == 0 {
		return false, err
	}
	id, payload, attempts, err := w.claim(ctx)
	if err != nil || id == 0 {
		return false, err
	}
	sendErr := w.post(ctx, url, []byte(payload))
	now := w.now()
	if sendErr == nil {
		_, err = w.d().ExecContext(ctx, w.q(`UPDATE config_webhook_outbox SET delivered_at = ?, claimed_until = NULL, last_error = NULL WHERE id = ?`),
			now.UnixMilli(), id)
		if err != nil {
			return false, fmt.Errorf("config webhook: record delivery of event %d: %w", id, err)
		}
		return true, nil
	}
	next := now.Add(webhookPolicy.Wait(attempts - 1))
	msg := sendErr.Error()
	if len(msg) > 500 {
		// Cut on a character boundary: PostgreSQL refuses broken UTF-8.
		msg = strings.ToValidUTF8(msg[:500], "")
	}
	if _, err := w.d().ExecContext(ctx, w.q(`UPDATE config_webhook_outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?`),
		next.UnixMilli(), msg, id); err != nil {
		return false, fmt.Errorf("config webhook: record failure of event %d: %w", id, err)
	}
	if attempts == 1 || attempts%10 == 0 {
		w.a.Log.Warn("config webhook: receiver refused the event; it will be retried", "event.id", id, "attempts", attempts,
			"retry_at", next.UTC().Format(time.RFC3339), "error", msg)
	}
	return false, nil // the others wait for the next pass: the receiver is likely down
}

// claim takes the oldest due, unclaimed event; id is 0 when there is none.
func (w *webhook) claim(ctx context.Context) (id int64, payload string, attempts int, err error) {
	tx, err := w.begin(ctx)
	if err != nil {
		return 0, "", 0, err
	}
	defer func() { _ = tx.Rollback() }()
	now := w.now().UnixMilli()
	err = tx.QueryRowContext(ctx, w.q(`SELECT id, payload, attempts FROM config_webhook_outbox
		WHERE delivered_at IS NULL AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
		ORDER BY id LIMIT 1`+w.lock(true)), now, now).Scan(&id, &payload, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", 0, nil
	}
	if err != nil {
		return 0, "", 0, fmt.Errorf("config webhook: claim: %w", err)
	}
	// The condition repeats the check: on SQLite, where nothing is locked
	// by the SELECT, only one claimant's update matches.
	res, err := tx.ExecContext(ctx, w.q(`UPDATE config_webhook_outbox SET claimed_until = ?, attempts = attempts + 1
		WHERE id = ? AND delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)`),
		w.now().Add(webhookLease).UnixMilli(), id, now)
	if err != nil {
		return 0, "", 0, fmt.Errorf("config webhook: claim event %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return 0, "", 0, nil
	}
	if err := tx.Commit(); err != nil {
		return 0, "", 0, fmt.Errorf("config webhook: commit claim: %w", err)
	}
	return id, payload, attempts + 1, nil
}

// post sends one event; any answer but 2xx is a failure.
func (w *webhook) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rookery-config-webhook")
	if secret := w.a.Keys.ConfigWebhook.Secret.Get(); secret.Reveal() != "" {
		req.Header.Set(SignatureHeader, Sign([]byte(secret.Reveal()), body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL may carry nothing secret (the rule refuses credentials),
		// but keep the error short and free of bodies.
		return fmt.Errorf("POST failed: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}
