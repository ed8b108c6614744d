package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/internal/mail/mailtest"
	"github.com/rookery/rookery/license/licensetest"
)

const publicURL = "http://rookery.test"

// smtpEnv points the app's smtp_* settings at srv, plain (this machine).
func smtpEnv(srv *mailtest.Server) map[string]string {
	return map[string]string{"SMTP_HOST": srv.Host, "SMTP_PORT": fmt.Sprint(srv.Port), "SMTP_FROM": "rookery@example.com",
		"SMTP_TLS": "none", "PUBLIC_URL": publicURL}
}

func startSMTP(t *testing.T, o mailtest.Options) *mailtest.Server {
	t.Helper()
	srv, err := mailtest.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// emailCall sends a request and decodes a JSON answer (nil for none).
func emailCall(t *testing.T, ta *testApp, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ta.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ta.client().Do(req) // answers checked against the API document
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, m
}

var linkRe = regexp.MustCompile(`http://rookery\.test/reset\?token=(\S+)`)

// tokenOf finds the link of a received message and returns its token.
func tokenOf(t *testing.T, r mailtest.Received) string {
	t.Helper()
	m := linkRe.FindStringSubmatch(r.Parts()["text/plain"])
	if m == nil {
		t.Fatalf("no link in %q", r.Parts()["text/plain"])
	}
	tok, err := url.QueryUnescape(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A forgotten password comes back through the emailed link, once; an
// unknown address gets the same answer in about the same time and
// nothing is queued for it. The link is queued after the answer, so the
// test waits for its message.
func TestEmailPasswordReset(t *testing.T) {
	srv := startSMTP(t, mailtest.Options{})
	ta := newSQLiteApp(t, smtpEnv(srv))
	admin := ta.admin()
	if st, m := emailCall(t, ta, "POST", "/api/v1/users", admin, map[string]string{"email": "bob@example.com", "password": "bobs-first-password", "role": "viewer"}); st != 201 {
		t.Fatalf("create bob: %d %v", st, m)
	}

	timed := func(email string) time.Duration {
		start := time.Now()
		st, m := emailCall(t, ta, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": email})
		if st != 202 || m["status"] != "accepted" {
			t.Fatalf("forgot %s: %d %v", email, st, m)
		}
		return time.Since(start)
	}
	unknown := timed("nobody@example.com")
	known := timed("Bob@Example.com")
	if diff := (known - unknown).Abs(); diff > 100*time.Millisecond {
		t.Errorf("known address answered in %v, unknown in %v: the timing tells them apart", known, unknown)
	}
	if _, err := srv.WaitFor(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // room for a message to the unknown address to show
	got := srv.Messages()
	if len(got) != 1 || got[0].To[0] != "bob@example.com" {
		t.Fatalf("messages %+v, want one to bob", got)
	}
	if got[0].Subject() != "rookery: reset your password" {
		t.Errorf("subject %q", got[0].Subject())
	}
	token := tokenOf(t, got[0])

	st, m := emailCall(t, ta, "GET", "/api/v1/auth/password/reset?token="+url.QueryEscape(token), "", nil)
	if st != 200 || m["email"] != "bob@example.com" || m["kind"] != "reset" || m["expires_at"] == nil {
		t.Fatalf("lookup: %d %v", st, m)
	}
	if st, m := emailCall(t, ta, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": token, "password": "short"}); st != 400 {
		t.Errorf("weak password: %d %v", st, m)
	}
	if st, m := emailCall(t, ta, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": token, "password": "bobs-second-password"}); st != 204 {
		t.Fatalf("reset: %d %v", st, m)
	}
	for _, try := range []func() (int, map[string]any){
		func() (int, map[string]any) {
			return emailCall(t, ta, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": token, "password": "bobs-third-password"})
		},
		func() (int, map[string]any) {
			return emailCall(t, ta, "GET", "/api/v1/auth/password/reset?token="+url.QueryEscape(token), "", nil)
		},
		func() (int, map[string]any) {
			return emailCall(t, ta, "GET", "/api/v1/auth/password/reset?token=made-up", "", nil)
		},
	} {
		if st, m := try(); st != 400 || m["error"] != "This link is not valid: it was already used, has expired, or was never issued." {
			t.Errorf("used or unknown token: %d %v", st, m)
		}
	}
	ta.login("bob@example.com", "bobs-second-password")

	st, m = emailCall(t, ta, "GET", "/api/v1/integrations", admin, nil)
	e, _ := m["email"].(map[string]any)
	if st != 200 || e["configured"] != true || e["sent"] != float64(1) || e["queued"] != float64(0) || e["last_sent_at"] == nil {
		t.Errorf("integrations email: %d %v", st, e)
	}
	st, m = emailCall(t, ta, "GET", "/api/v1/email/outbox", admin, nil)
	msgs, _ := m["messages"].([]any)
	if st != 200 || len(msgs) != 1 {
		t.Fatalf("outbox: %d %v", st, m)
	}
	first, _ := msgs[0].(map[string]any)
	if first["kind"] != "reset" || first["status"] != "sent" || first["to"] != "bob@example.com" || first["body"] != nil || first["text"] != nil {
		t.Errorf("outbox entry %v", first)
	}
	if st, _ := emailCall(t, ta, "GET", "/api/v1/email/outbox", ta.login("bob@example.com", "bobs-second-password"), nil); st != 403 {
		t.Errorf("outbox for a viewer: %d", st)
	}
}

// A user created without a password is invited: the link lets them choose
// one; a resend retires the earlier link; an admin can email a reset.
func TestEmailInvitation(t *testing.T) {
	srv := startSMTP(t, mailtest.Options{})
	ta := newSQLiteApp(t, smtpEnv(srv))
	admin := ta.admin()
	st, m := emailCall(t, ta, "POST", "/api/v1/users", admin, map[string]string{"email": "carol@example.com", "role": "maintainer"})
	u, _ := m["user"].(map[string]any)
	if st != 201 || m["invitation"] != "queued" || u["invited"] != true {
		t.Fatalf("invite: %d %v", st, m)
	}
	id := fmt.Sprint(u["id"])
	got, err := srv.WaitFor(1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got[0].Subject(), "you are invited") {
		t.Errorf("subject %q", got[0].Subject())
	}
	first := tokenOf(t, got[0])
	if st, m := emailCall(t, ta, "POST", "/api/v1/users/"+id+"/invitation", admin, nil); st != 202 || m["status"] != "queued" {
		t.Fatalf("resend: %d %v", st, m)
	}
	if got, err = srv.WaitFor(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	second := tokenOf(t, got[1])
	if st, _ := emailCall(t, ta, "GET", "/api/v1/auth/password/reset?token="+url.QueryEscape(first), "", nil); st != 400 {
		t.Errorf("first link after a resend: %d", st)
	}
	st, m = emailCall(t, ta, "GET", "/api/v1/auth/password/reset?token="+url.QueryEscape(second), "", nil)
	if st != 200 || m["kind"] != "invitation" || m["email"] != "carol@example.com" {
		t.Fatalf("lookup: %d %v", st, m)
	}
	if st, m := emailCall(t, ta, "POST", "/api/v1/users/"+id+"/password-reset", admin, nil); st != 400 || !strings.Contains(fmt.Sprint(m["error"]), "resend the invitation") {
		t.Errorf("admin reset of an invited user: %d %v", st, m)
	}
	if st, m := emailCall(t, ta, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": second, "password": "carols-own-password"}); st != 204 {
		t.Fatalf("accept: %d %v", st, m)
	}
	ta.login("carol@example.com", "carols-own-password")
	_, m = emailCall(t, ta, "GET", "/api/v1/users", admin, nil)
	for _, x := range m["users"].([]any) {
		if u := x.(map[string]any); u["email"] == "carol@example.com" && u["invited"] != false {
			t.Errorf("still invited: %v", u)
		}
	}
	if st, _ := emailCall(t, ta, "POST", "/api/v1/users/"+id+"/invitation", admin, nil); st != 400 {
		t.Errorf("resend after acceptance: %d", st)
	}
	if st, m := emailCall(t, ta, "POST", "/api/v1/users/"+id+"/password-reset", admin, nil); st != 202 {
		t.Fatalf("admin reset: %d %v", st, m)
	}
	if got, err = srv.WaitFor(3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got[2].To[0] != "carol@example.com" || !strings.Contains(got[2].Subject(), "reset your password") {
		t.Errorf("admin reset message %+v", got[2])
	}
}

// The test send uses the stored settings overlaid with unsaved ones,
// answers the server's reply or a readable reason, and never shows the
// password.
func TestEmailTestSend(t *testing.T) {
	srv := startSMTP(t, mailtest.Options{TLS: mailtest.Plain, User: "mailer", Pass: "the-smtp-password"})
	ta := newSQLiteApp(t, map[string]string{"SMTP_FROM": "rookery@example.com", "SMTP_USER": "mailer", "SMTP_PASS": "the-smtp-password"})
	admin := ta.admin()
	send := func(body map[string]any) (int, map[string]any) {
		return emailCall(t, ta, "POST", "/api/v1/email/test", admin, body)
	}
	if st, m := send(map[string]any{"to": "ops@example.com"}); st != 400 || !strings.Contains(fmt.Sprint(m["error"]), "not configured") {
		t.Errorf("unconfigured: %d %v", st, m)
	}
	// A new server with the stored password: refused, as saving would be.
	overlay := map[string]any{"smtp_host": srv.Host, "smtp_port": srv.Port, "smtp_tls": "none"}
	if st, m := send(map[string]any{"to": "ops@example.com", "settings": overlay}); st != 400 || !strings.Contains(fmt.Sprint(m["error"]), "enter smtp_pass again") {
		t.Errorf("stored password to an unsaved server: %d %v", st, m)
	}
	overlay["smtp_pass"] = "the-smtp-password"
	st, m := send(map[string]any{"to": "ops@example.com", "settings": overlay})
	if st != 200 || m["ok"] != true || m["message"] != "Test email sent to ops@example.com" || !strings.HasPrefix(fmt.Sprint(m["detail"]), "250") {
		t.Fatalf("test send: %d %v", st, m)
	}
	if got := srv.Messages(); len(got) != 1 || !strings.Contains(got[0].Subject(), "test email") {
		t.Fatalf("received %+v", got)
	}
	for _, c := range []struct {
		body map[string]any
		st   int
		want string
	}{
		{map[string]any{"to": "refused@example.com", "settings": overlay}, 502, "the server refused the recipient refused@example.com"},
		{map[string]any{"to": "ops@example.com", "settings": map[string]any{"smtp_host": srv.Host, "smtp_port": srv.Port, "smtp_tls": "none", "smtp_pass": "wrong-password-123"}},
			502, "the server refused the username or password"},
		{map[string]any{"to": "ops@example.com", "settings": map[string]any{"smtp_host": "smtp.example.com", "smtp_tls": "none", "smtp_pass": "x"}}, 400, "smtp_tls=none is allowed only"},
		{map[string]any{"to": "ops@example.com", "settings": map[string]any{"smtp_port": "many"}}, 400, "smtp_port"},
		{map[string]any{"to": "ops@example.com", "settings": map[string]any{"log_level": "debug"}}, 400, "only the smtp_* keys"},
		{map[string]any{"to": "not an address"}, 400, "to must be an email address"},
	} {
		st, m := send(c.body)
		raw, _ := json.Marshal(m)
		if st != c.st || !strings.Contains(string(raw), c.want) {
			t.Errorf("%v: %d %s, want %d with %q", c.body, st, raw, c.st, c.want)
		}
		if strings.Contains(string(raw), "the-smtp-password") || strings.Contains(string(raw), "wrong-password-123") {
			t.Errorf("an answer shows a password: %s", raw)
		}
	}
	// Nothing was saved by the test sends.
	if got := ta.Keys.SMTP.Host.Get(); got != "" {
		t.Errorf("smtp_host is %q after test sends", got)
	}
	_, m = emailCall(t, ta, "GET", "/api/v1/email/outbox", admin, nil)
	if c, _ := m["counts"].(map[string]any); c["sent"] != float64(1) || c["failed"] != float64(2) {
		t.Errorf("outbox counts after test sends: %v", m["counts"])
	}
}

// Admins are told 30, 7 and 1 days before the licence expires, once each.
func TestLicenceExpiryNotices(t *testing.T) {
	srv := startSMTP(t, mailtest.Options{})
	lic := licensetest.Professional(licensetest.KeyProfessional)
	lic.ExpiresAt = time.Now().UTC().Truncate(time.Second).Add(5 * 24 * time.Hour)
	ls := licensetest.NewServer(lic)
	defer ls.Close()
	env := smtpEnv(srv)
	for k, v := range licenceEnv(ls, licensetest.KeyProfessional, true) {
		env[k] = v
	}
	ta := startApp(t, dbtest.Fresh(t, db.SQLite), env)
	got, err := srv.WaitFor(1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].To[0] != adminEmail || got[0].Subject() != "rookery: the licence expires in 5 days" ||
		!strings.Contains(got[0].Parts()["text/plain"], publicURL+"/license") {
		t.Fatalf("notice %q to %v", got[0].Subject(), got[0].To)
	}
	ctx := context.Background()
	if err := ta.queueLicenceNotice(ctx, time.Now()); err != nil { // a second check, or another replica's
		t.Fatal(err)
	}
	if err := ta.queueLicenceNotice(ctx, lic.ExpiresAt.Add(-12*time.Hour)); err != nil { // the last day
		t.Fatal(err)
	}
	if err := ta.queueLicenceNotice(ctx, lic.ExpiresAt.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err = srv.WaitFor(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got = srv.Messages(); len(got) != 2 || got[1].Subject() != "rookery: the licence expires tomorrow" {
		for _, r := range got {
			t.Logf("received %q", r.Subject())
		}
		t.Fatalf("%d notices, want the 7-day and the 1-day one", len(got))
	}
}

// The answer to a forgotten password does not wait for the account's
// lookup and the queuing of its link: with the database's writer held by
// another transaction, a known address is still answered 202, and its link
// is queued once the writer is free.
func TestEmailForgotAnswersFirst(t *testing.T) {
	srv := startSMTP(t, mailtest.Options{})
	ta := newSQLiteApp(t, smtpEnv(srv))
	ctx := context.Background()
	tx, err := ta.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = updated_at WHERE email = ?`, adminEmail); err != nil {
		t.Fatal(err)
	}
	answered := make(chan int, 1)
	go func() {
		st, _ := emailCall(t, ta, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": adminEmail})
		answered <- st
	}()
	select {
	case st := <-answered:
		if st != 202 {
			t.Errorf("forgot: %d, want 202", st)
		}
	case <-time.After(10 * time.Second):
		t.Error("the answer waited for the database writer")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages while the writer was held", n)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitFor(1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].To[0] != adminEmail || !strings.Contains(got[0].Subject(), "reset your password") {
		t.Errorf("message %+v", got[0])
	}
}

// Reset requests are throttled like sign-ins: past login_max_attempts
// for one address the answer is 429 with Retry-After, whoever it names.
func TestEmailForgotThrottled(t *testing.T) {
	srv := startSMTP(t, mailtest.Options{})
	env := smtpEnv(srv)
	env["LOGIN_MAX_ATTEMPTS"] = "2"
	ta := newSQLiteApp(t, env)
	for i := range 2 {
		if st, m := emailCall(t, ta, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": "nobody@example.com"}); st != 202 {
			t.Fatalf("request %d: %d %v", i+1, st, m)
		}
	}
	st, m := emailCall(t, ta, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": "nobody@example.com"})
	if st != 429 || !strings.Contains(fmt.Sprint(m["error"]), "too many password reset requests") {
		t.Errorf("third request: %d %v", st, m)
	}
	// Made-up links count against the address too.
	for i := range 8 {
		if st, _ := emailCall(t, ta, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": fmt.Sprint("guess-", i), "password": "a-long-enough-password"}); st != 400 {
			t.Fatalf("guess %d: %d", i+1, st)
		}
	}
	if st, _ := emailCall(t, ta, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": "guess-9", "password": "a-long-enough-password"}); st != 429 {
		t.Errorf("ninth guess: %d, want 429", st)
	}
}

// A settings change applies to the next message, without a restart.
func TestEmailSettingsApplyAtOnce(t *testing.T) {
	first := startSMTP(t, mailtest.Options{})
	second := startSMTP(t, mailtest.Options{})
	ta := newSQLiteApp(t, smtpEnv(first))
	admin := ta.admin()
	if st, m := emailCall(t, ta, "PUT", "/api/v1/config/smtp_port", admin, map[string]any{"value": second.Port}); st != 200 {
		t.Fatalf("change smtp_port: %d %v", st, m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ta.Keys.SMTP.Port.Get() != int64(second.Port) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st, m := emailCall(t, ta, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": adminEmail}); st != 202 {
		t.Fatalf("forgot: %d %v", st, m)
	}
	if _, err := second.WaitFor(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(first.Messages()); n != 0 {
		t.Errorf("%d messages went to the old server", n)
	}
}
