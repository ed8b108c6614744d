package app

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/internal/mail"
)

// newMail builds email on the smtp_* settings, read for every message.
func newMail(c *Core) *mail.Service {
	return mail.NewService(c.DB, c.Sealer, func() mail.Settings { return mail.SettingsOf(c.Keys.SMTP) }, c.Keys.AppName.Get, c.Log)
}

// licenceNoticeInterval is how often the licence's expiry is compared
// with the notice marks.
const licenceNoticeInterval = time.Hour

// startEmail runs the outbox worker and the licence expiry notices among
// the app's loops; Shutdown stops them with the others.
func (a *App) startEmail(ctx context.Context) {
	a.loops.Add(2)
	go func() {
		defer a.loops.Done()
		a.Mail.Worker.Run(ctx)
	}()
	go func() {
		defer a.loops.Done()
		a.licenceNotices(ctx, licenceNoticeInterval)
	}()
}

// emailReport is the email part of GET /api/v1/integrations.
func (a *App) emailReport(ctx context.Context) httpapi.EmailReport {
	out := httpapi.EmailReport{Configured: a.Mail.Settings().Configured()}
	st, err := a.Mail.Outbox.Stats(ctx)
	if err != nil {
		out.LastError = "the outbox cannot be read: " + err.Error()
		return out
	}
	out.Queued, out.Sent, out.Failed, out.LastError, out.LastSentAt = st.Queued, st.Sent, st.Failed, st.LastError, st.LastSentAt
	return out
}

// licenceNoticeMarks are the days before expires_at when admins are told,
// each once.
var licenceNoticeMarks = []int{1, 7, 30}

// licenceNotices checks the licence's expiry now and every interval, and
// deletes the reset and invitation tokens long expired.
func (a *App) licenceNotices(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := a.queueLicenceNotice(ctx, time.Now()); err != nil && ctx.Err() == nil {
			a.Log.Warn("licence expiry notice not queued; retrying at the next check", "error", err.Error())
		}
		if _, err := a.Auth.PurgeEmailTokens(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("purge of expired email tokens failed; retrying at the next check", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// queueLicenceNotice queues the notice of the nearest mark the licence
// has passed (30, 7 or 1 days before it expires) to every active admin,
// unless that notice was queued before, by this replica or another: the
// row of license_expiry_notices is written in the same transaction as the
// messages.
func (a *App) queueLicenceNotice(ctx context.Context, now time.Time) error {
	exp := a.License.Status().ExpiresAt
	if exp.IsZero() || !now.Before(exp) {
		return nil
	}
	left := exp.Sub(now)
	mark := 0
	for _, m := range licenceNoticeMarks {
		if left <= time.Duration(m)*24*time.Hour {
			mark = m
			break
		}
	}
	if mark == 0 {
		return nil
	}
	users, err := a.Auth.List(ctx)
	if err != nil {
		return err
	}
	var admins []string
	for _, u := range users {
		if u.Role == auth.Admin && !u.Disabled && !u.Invited {
			admins = append(admins, u.Email)
		}
	}
	days := int(math.Ceil(left.Hours() / 24))
	if len(admins) == 0 {
		return fmt.Errorf("the licence expires in %d day(s) and there is no active admin to tell", days)
	}
	tx, err := a.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("licence expiry notice: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, a.DB.Rebind(`INSERT INTO license_expiry_notices (expires_at, days_before, queued_at) VALUES (?, ?, ?)`),
		exp.UnixMilli(), mark, now.UnixMilli())
	if db.IsUniqueViolation(err) {
		return nil // already queued
	}
	if err != nil {
		return fmt.Errorf("licence expiry notice: %w", err)
	}
	link := ""
	if base := strings.TrimRight(a.Keys.PublicURL.Get(), "/"); base != "" {
		link = base + "/license"
	}
	for _, email := range admins {
		if err := a.Mail.Queue(ctx, tx, mail.KindLicenceExpiry, email,
			mail.Data{DaysLeft: days, ExpiresAt: exp.UTC().Format("2 January 2006 15:04 MST"), Link: link}); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		if db.IsUniqueViolation(err) {
			return nil
		}
		return fmt.Errorf("licence expiry notice: %w", err)
	}
	a.Mail.Queued()
	a.Log.Info("licence expiry notice queued", "days_before", mark, "admins", len(admins), "expires_at", exp.UTC().Format(time.RFC3339))
	return nil
}
