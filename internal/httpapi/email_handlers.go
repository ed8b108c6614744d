package httpapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	netmail "net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/mail"
)

// EmailReport is the email part of GET /api/v1/integrations: whether
// messages can be sent, and the outbox's state.
type EmailReport struct {
	Configured bool   `json:"configured"`
	Queued     int    `json:"queued"`
	Sent       int    `json:"sent"`
	Failed     int    `json:"failed"`
	LastError  string `json:"last_error"`
	// LastSentAt is when a message last went out; null when none has.
	LastSentAt *time.Time `json:"last_sent_at"`
}

// emailTestRequest is POST /api/v1/email/test.
type emailTestRequest struct {
	To string `json:"to"`
	// Settings are unsaved smtp_* values to send with instead of the
	// stored ones; a sensitive one left out keeps the stored value.
	Settings map[string]json.RawMessage `json:"settings,omitempty"`
}

// emailTestAnswer says the test message was sent, with the server's reply.
type emailTestAnswer struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Detail  string `json:"detail"`
}

// emailTestFailure says why the server did not take the test message.
type emailTestFailure struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}

// outboxAnswer is GET /api/v1/email/outbox.
type outboxAnswer struct {
	Messages []mail.Entry `json:"messages" openapi:"nonnull"`
	Counts   outboxCounts `json:"counts"`
}

type outboxCounts struct {
	Queued int `json:"queued"`
	Sent   int `json:"sent"`
	Failed int `json:"failed"`
}

type forgotRequest struct {
	Email string `json:"email"`
}

type resetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// forgotTimeout bounds the lookup and queuing a forgot-password request
// does after its answer.
const forgotTimeout = 30 * time.Second

// afterAnswer runs the work of requests that answer before doing it (a
// forgotten password), and lets the server wait for it before the
// database closes.
type afterAnswer struct {
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// start runs fn in a goroutine, unless Drain has begun: then it answers
// false and the caller does the work itself.
func (a *afterAnswer) start(fn func()) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return false
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fn()
	}()
	return true
}

// Drain waits, until ctx ends, for the work requests left running after
// their answer (forgotten-password lookups), and starts no more: the app
// calls it after the HTTP server stopped and before the database closes.
func (s *Server) Drain(ctx context.Context) error {
	s.after.mu.Lock()
	s.after.stopped = true
	s.after.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.after.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password reset requests still running: %w", ctx.Err())
	}
}

func (s *Server) emailRoutes() {
	s.mux.Handle("POST /api/v1/email/test", s.require(auth.Admin, s.emailTest))
	s.mux.Handle("GET /api/v1/email/outbox", s.require(auth.Admin, s.emailOutbox))
	s.mux.HandleFunc("POST /api/v1/auth/password/forgot", s.forgotPassword)
	s.mux.HandleFunc("GET /api/v1/auth/password/reset", s.resetLookup)
	s.mux.HandleFunc("POST /api/v1/auth/password/reset", s.resetPassword)
	s.mux.Handle("POST /api/v1/users/{id}/invitation", s.require(auth.Admin, s.resendInvitation))
	s.mux.Handle("POST /api/v1/users/{id}/password-reset", s.require(auth.Admin, s.adminPasswordReset))
}

// errNoMail answers the email routes of a process built without email.
var errNoMail = errorf(http.StatusServiceUnavailable, "email is not available in this process")

// emailTest sends one test message now with the stored settings overlaid
// with the unsaved ones given, so the settings page can test before saving.
func (s *Server) emailTest(w http.ResponseWriter, r *http.Request) {
	if s.mail == nil {
		s.fail(w, r, errNoMail)
		return
	}
	var body emailTestRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	to, err := netmail.ParseAddress(strings.TrimSpace(body.To))
	if err != nil || to.Name != "" || to.Address != strings.TrimSpace(body.To) {
		writeError(w, http.StatusBadRequest, "to must be an email address such as ops@example.com", nil)
		return
	}
	st, err := s.overlaySMTP(s.mail.Settings(), body.Settings)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := st.Check(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	reply, err := s.mail.SendTest(r.Context(), st, to.Address)
	s.track(r, "email_test", err, "email.to", to.Address)
	var me *mail.Error
	switch {
	case errors.As(err, &me) && me.Settings:
		writeError(w, http.StatusBadRequest, me.Reason, nil)
	case errors.As(err, &me):
		writeJSON(w, http.StatusBadGateway, emailTestFailure{Error: me.Reason, Detail: me.Detail})
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, emailTestAnswer{OK: true, Message: "Test email sent to " + to.Address, Detail: reply})
	}
}

// overlaySMTP returns cur with the given smtp_* values in place, each
// checked as the settings API checks it. A value that changes where the
// stored password would be sent (a key that carries smtp_pass) needs the
// password given too, as when saving: the stored one goes only to the
// server it was saved for.
func (s *Server) overlaySMTP(cur mail.Settings, values map[string]json.RawMessage) (mail.Settings, error) {
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	given := map[string]string{}
	for _, name := range names {
		k, ok := s.cfg.Registry().Lookup(name)
		if !ok || k.Category != config.Email || !strings.HasPrefix(name, "smtp_") {
			return cur, errorf(http.StatusBadRequest, "settings may hold only the smtp_* keys; %s is not one", name)
		}
		if string(values[name]) == "null" {
			continue // the stored value
		}
		text, err := valueText(values[name], k.Type)
		if err != nil {
			return cur, &config.ValidationError{Key: name, Reason: err.Error()}
		}
		canon, err := k.Parse(text)
		if err != nil {
			return cur, err
		}
		given[name] = canon
	}
	next := cur
	for name, v := range given {
		switch name {
		case "smtp_host":
			next.Host = v
		case "smtp_port":
			n, _ := strconv.Atoi(v)
			next.Port = n
		case "smtp_user":
			next.User = v
		case "smtp_pass":
			next.Pass = config.NewSecret(v)
		case "smtp_from":
			next.From = v
		case "smtp_tls":
			next.TLS = v
		case "smtp_timeout":
			n, _ := strconv.Atoi(v)
			next.Timeout = time.Duration(n) * time.Second
		case "smtp_allow_insecure":
			next.AllowInsecure = v == "true"
		}
	}
	if _, passGiven := given["smtp_pass"]; !passGiven && !cur.Pass.IsZero() &&
		(next.Host != cur.Host || next.Port != cur.Port || next.TLS != cur.TLS || next.AllowInsecure != cur.AllowInsecure) {
		return cur, errorf(http.StatusBadRequest, "enter smtp_pass again to test another server or encryption: the stored password is sent only to the server it was saved for")
	}
	return next, nil
}

// emailOutbox lists the latest messages, without their bodies.
func (s *Server) emailOutbox(w http.ResponseWriter, r *http.Request) {
	if s.mail == nil {
		s.fail(w, r, errNoMail)
		return
	}
	list, err := s.mail.Outbox.List(r.Context(), 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.mail.Outbox.Stats(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, outboxAnswer{Messages: list, Counts: outboxCounts{Queued: st.Queued, Sent: st.Sent, Failed: st.Failed}})
}

// link is the page a one-time token opens, on public_url. It is never
// built from the request's Host: a forged Host would send the victim a
// link to someone else's server, carrying the token.
func (s *Server) link(token string) (string, error) {
	base := strings.TrimRight(s.keys.PublicURL.Get(), "/")
	if base == "" {
		return "", errorf(http.StatusBadRequest, "set public_url first: the links in emails are built on it")
	}
	return base + "/reset?token=" + url.QueryEscape(token), nil
}

// queueLink returns the auth.QueueFunc that writes the email of kind,
// carrying the link of its token, into the outbox.
func (s *Server) queueLink(ctx context.Context, kind mail.Kind) auth.QueueFunc {
	return func(tx *sql.Tx, u auth.User, token string, expires time.Time) error {
		link, err := s.link(token)
		if err != nil {
			return err
		}
		valid := "1 hour"
		if kind == mail.KindInvitation {
			valid = "72 hours"
		}
		return s.mail.Queue(ctx, tx, kind, u.Email, mail.Data{Email: u.Email, Link: link, Valid: valid})
	}
}

// forgotPassword answers 202 at once for every address and looks the
// account up afterwards: the answer's timing cannot tell whether a link
// was sent, however long queuing one takes.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) {
	var body forgotRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.TrimSpace(body.Email) == "" {
		writeError(w, http.StatusBadRequest, "email is required", nil)
		return
	}
	max := s.maxAttempts()
	if d := s.throttle.Reserve(auth.Limit{Key: "forgot:" + auth.AccountKey(body.Email), Max: max},
		auth.Limit{Key: "forgot-ip:" + s.clientBucket(r), Max: max * 4}); d > 0 {
		w.Header().Set("Retry-After", retryAfter(d))
		writeError(w, http.StatusTooManyRequests, "too many password reset requests; wait "+retryAfter(d)+" seconds and try again", nil)
		return
	}
	if s.mail != nil {
		// The request's values (request id) without its end: the work
		// outlives the answer.
		bg := r.WithContext(context.WithoutCancel(r.Context()))
		work := func() { s.issueReset(bg, body.Email) }
		if !s.after.start(work) {
			work() // shutting down: nothing runs after the answer any more
		}
	}
	writeJSON(w, http.StatusAccepted, statusAnswer{Status: "accepted"})
}

// issueReset queues a reset link for email when it names an account that
// may have one, logging failures (never the token).
func (s *Server) issueReset(r *http.Request, email string) {
	ctx, cancel := context.WithTimeout(r.Context(), forgotTimeout)
	defer cancel()
	err := s.auth.IssueReset(ctx, email, s.queueLink(ctx, mail.KindReset))
	switch {
	case err == nil:
		s.mail.Queued()
		s.track(r, "password_reset_request", nil)
	case !errors.Is(err, auth.ErrNotFound):
		s.logger(r).Warn("password reset email not queued", "error", err.Error())
	}
}

// resetLookup tells the reset page whose link it holds, without using it.
func (s *Server) resetLookup(w http.ResponseWriter, r *http.Request) {
	info, err := s.auth.LookupToken(r.Context(), r.URL.Query().Get("token"))
	if errors.Is(err, auth.ErrTokenInvalid) {
		writeError(w, http.StatusBadRequest, auth.TokenInvalidMessage, nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// resetPassword uses a reset or invitation link to set the password.
// Attempts are throttled per client address like sign-ins.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	var body resetRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Token == "" || body.Password == "" {
		writeError(w, http.StatusBadRequest, "token and password are required", nil)
		return
	}
	addrKey := "reset-ip:" + s.clientBucket(r)
	if d := s.throttle.Reserve(auth.Limit{Key: addrKey, Max: s.maxAttempts() * 4}); d > 0 {
		w.Header().Set("Retry-After", retryAfter(d))
		writeError(w, http.StatusTooManyRequests, "too many attempts; wait "+retryAfter(d)+" seconds and try again", nil)
		return
	}
	u, err := s.auth.ResetWithToken(r.Context(), body.Token, body.Password)
	s.track(r, "password_reset", err, "user.id", u.ID)
	switch {
	case err == nil:
		// Not a guess, and the owner has shown control of the account.
		s.throttle.Release(addrKey)
		s.throttle.Succeed(auth.AccountKey(u.Email))
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, auth.ErrTokenInvalid):
		writeError(w, http.StatusBadRequest, auth.TokenInvalidMessage, nil)
	default:
		if !errors.Is(err, auth.ErrUnavailable) {
			s.throttle.Release(addrKey) // a refused password is no guess
		}
		s.fail(w, r, err)
	}
}

// resendInvitation emails an invited user a new link; the earlier ones
// stop working.
func (s *Server) resendInvitation(w http.ResponseWriter, r *http.Request) {
	s.adminLink(w, r, "user_invitation_resend", mail.KindInvitation, s.auth.ResendInvitation)
}

// adminPasswordReset emails a user a reset link.
func (s *Server) adminPasswordReset(w http.ResponseWriter, r *http.Request) {
	s.adminLink(w, r, "user_password_reset", mail.KindReset, s.auth.IssueResetFor)
}

func (s *Server) adminLink(w http.ResponseWriter, r *http.Request, action string, kind mail.Kind,
	issue func(context.Context, int64, auth.QueueFunc) (auth.User, error)) {
	if s.mail == nil {
		s.fail(w, r, errNoMail)
		return
	}
	id, err := userID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.link(""); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := issue(r.Context(), id, s.queueLink(r.Context(), kind))
	s.track(r, action, err, "user.target.id", id, "user.target.name", u.Email)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.mail.Queued()
	writeJSON(w, http.StatusAccepted, statusAnswer{Status: "queued"})
}

// createInvitedUser is POST /api/v1/users without a password: the user
// is created invited, with the invitation email queued in the same
// transaction.
func (s *Server) createInvitedUser(w http.ResponseWriter, r *http.Request, email string, role auth.Role) {
	if s.mail == nil {
		writeError(w, http.StatusBadRequest, "a password is required: this process cannot send invitations", nil)
		return
	}
	if _, err := s.link(""); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.auth.CreateInvited(r.Context(), email, role, s.queueLink(r.Context(), mail.KindInvitation))
	s.track(r, "user_create", err, "user.target.name", email, "user.target.roles", string(role), "user.target.invited", true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.mail.Queued()
	writeJSON(w, http.StatusCreated, userAnswer{User: viewUser(u), Invitation: "queued"})
}
