package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/mail"
	"github.com/rookery/rookery/internal/mail/mailtest"
)

const testPass = "s3cret-Pa55word"

func startServer(t *testing.T, o mailtest.Options) *mailtest.Server {
	t.Helper()
	srv, err := mailtest.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func settingsFor(srv *mailtest.Server, tlsMode string) mail.Settings {
	return mail.Settings{Host: srv.Host, Port: srv.Port, From: "rookery@example.com", TLS: tlsMode, Timeout: 5 * time.Second}
}

func compose(t *testing.T, to string) mail.Message {
	t.Helper()
	m, err := mail.Compose(mail.KindReset, to, mail.Data{AppName: "penguin-app", Link: "https://rookery.example.com/reset?token=abc", Valid: "1 hour"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Messages go out plain (to this machine), over STARTTLS and over
// implicit TLS, with and without AUTH PLAIN, as multipart text and HTML
// with app_name in the subject and a Message-ID.
func TestSendModes(t *testing.T) {
	for _, c := range []struct {
		name       string
		server     mailtest.Options
		tlsMode    string
		user, pass string
		wantTLS    bool
	}{
		{name: "plain", server: mailtest.Options{}, tlsMode: mail.TLSNone},
		{name: "plain with AUTH PLAIN", server: mailtest.Options{User: "mailer", Pass: testPass}, tlsMode: mail.TLSNone, user: "mailer", pass: testPass},
		{name: "starttls", server: mailtest.Options{TLS: mailtest.StartTLS}, tlsMode: mail.TLSStartTLS, wantTLS: true},
		{name: "starttls with AUTH PLAIN", server: mailtest.Options{TLS: mailtest.StartTLS, User: "mailer", Pass: testPass},
			tlsMode: mail.TLSStartTLS, user: "mailer", pass: testPass, wantTLS: true},
		{name: "implicit tls with AUTH PLAIN", server: mailtest.Options{TLS: mailtest.Implicit, User: "mailer", Pass: testPass},
			tlsMode: mail.TLSImplicit, user: "mailer", pass: testPass, wantTLS: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startServer(t, c.server)
			s := settingsFor(srv, c.tlsMode)
			s.User, s.Pass = c.user, config.NewSecret(c.pass)
			m := &mail.Mailer{RootCAs: srv.CA}
			reply, err := m.Send(context.Background(), s, compose(t, "ada@example.com"))
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			if !strings.HasPrefix(reply, "250") {
				t.Errorf("reply %q, want the server's 250 answer", reply)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("%d messages received, want 1", len(got))
			}
			r := got[0]
			if r.TLS != c.wantTLS {
				t.Errorf("received over TLS %v, want %v", r.TLS, c.wantTLS)
			}
			if r.From != "rookery@example.com" || len(r.To) != 1 || r.To[0] != "ada@example.com" {
				t.Errorf("envelope from %q to %v", r.From, r.To)
			}
			if subj := r.Subject(); subj != "penguin-app: reset your password" {
				t.Errorf("subject %q", subj)
			}
			if id := r.Header.Get("Message-Id"); !strings.HasPrefix(id, "<rookery.") || !strings.HasSuffix(id, "@example.com>") {
				t.Errorf("Message-ID %q", id)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
				t.Errorf("Content-Type %q, want multipart/alternative", ct)
			}
			parts := r.Parts()
			if !strings.Contains(parts["text/plain"], "https://rookery.example.com/reset?token=abc") {
				t.Errorf("text part lacks the link: %q", parts["text/plain"])
			}
			if !strings.Contains(parts["text/html"], `<a href="https://rookery.example.com/reset?token=abc">`) {
				t.Errorf("HTML part lacks the link: %q", parts["text/html"])
			}
		})
	}
}

// Each failure is told in words a person can act on, and never with the
// password.
func TestSendFailures(t *testing.T) {
	starttls := startServer(t, mailtest.Options{TLS: mailtest.StartTLS, User: "mailer", Pass: testPass})
	plain := startServer(t, mailtest.Options{})
	down := startServer(t, mailtest.Options{})
	if err := down.SetDown(true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		srv     *mailtest.Server
		tlsMode string
		pass    string
		to      string
		trusted bool
		want    string
		perm    bool
	}{
		{name: "wrong password", srv: starttls, tlsMode: mail.TLSStartTLS, pass: "wrong-" + testPass, trusted: true,
			want: "the server refused the username or password"},
		{name: "refused recipient", srv: starttls, tlsMode: mail.TLSStartTLS, pass: testPass, to: "refused@example.com", trusted: true,
			want: "the server refused the recipient refused@example.com", perm: true},
		{name: "untrusted certificate", srv: starttls, tlsMode: mail.TLSStartTLS, pass: testPass, want: "TLS handshake with"},
		{name: "no STARTTLS offered", srv: plain, tlsMode: mail.TLSStartTLS, trusted: true, want: "does not offer STARTTLS"},
		{name: "implicit TLS to a plain server", srv: plain, tlsMode: mail.TLSImplicit, trusted: true, want: "TLS handshake with"},
		{name: "connection refused", srv: down, tlsMode: mail.TLSNone, want: "could not connect to " + down.Addr() + " (connection refused)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := settingsFor(c.srv, c.tlsMode)
			if c.pass != "" {
				s.User, s.Pass = "mailer", config.NewSecret(c.pass)
			}
			m := &mail.Mailer{}
			if c.trusted {
				m.RootCAs = c.srv.CA
			}
			to := c.to
			if to == "" {
				to = "ada@example.com"
			}
			before := len(c.srv.Messages())
			_, err := m.Send(context.Background(), s, compose(t, to))
			var me *mail.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T), want *mail.Error", err, err)
			}
			if !strings.Contains(me.Reason, c.want) {
				t.Errorf("reason %q, want it to contain %q", me.Reason, c.want)
			}
			if me.Permanent != c.perm {
				t.Errorf("permanent %v, want %v", me.Permanent, c.perm)
			}
			if c.pass != "" && strings.Contains(me.Error(), c.pass) {
				t.Errorf("the error shows the password: %q", me.Error())
			}
			if n := len(c.srv.Messages()); n != before {
				t.Errorf("%d messages accepted by a failed send", n-before)
			}
		})
	}
}

// smtp_tls=none is refused towards another machine unless
// smtp_allow_insecure says so; nothing is configured without host and
// sender.
func TestSettingsCheck(t *testing.T) {
	for _, c := range []struct {
		s    mail.Settings
		want string
	}{
		{mail.Settings{Host: "smtp.example.com", From: "a@b.c", TLS: mail.TLSStartTLS}, ""},
		{mail.Settings{Host: "smtp.example.com", From: "a@b.c", TLS: mail.TLSImplicit}, ""},
		{mail.Settings{Host: "smtp.example.com", From: "a@b.c", TLS: mail.TLSNone}, "smtp_tls=none is allowed only for a server on this machine"},
		{mail.Settings{Host: "smtp.example.com", From: "a@b.c", TLS: mail.TLSNone, AllowInsecure: true}, ""},
		{mail.Settings{Host: "localhost", From: "a@b.c", TLS: mail.TLSNone}, ""},
		{mail.Settings{Host: "127.0.0.1", From: "a@b.c", TLS: mail.TLSNone}, ""},
		{mail.Settings{Host: "::1", From: "a@b.c", TLS: mail.TLSNone}, ""},
		{mail.Settings{Host: "10.0.0.1", From: "a@b.c", TLS: mail.TLSNone}, "smtp_tls=none is allowed only"},
		{mail.Settings{Host: "", From: "a@b.c"}, "email is not configured"},
		{mail.Settings{Host: "smtp.example.com"}, "email is not configured"},
	} {
		err := c.s.Check()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: refused: %v", c.s, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want %q", c.s, err, c.want)
		}
	}
	// The mailer applies the rule before connecting.
	_, err := (&mail.Mailer{}).Send(context.Background(), mail.Settings{Host: "192.0.2.1", Port: 25, From: "a@b.c", TLS: mail.TLSNone},
		compose(t, "ada@example.com"))
	var me *mail.Error
	if !errors.As(err, &me) || !me.Settings || !strings.Contains(me.Reason, "smtp_allow_insecure") {
		t.Errorf("send with none to another machine: %v", err)
	}
}

// Probe signs in and quits without sending anything.
func TestProbe(t *testing.T) {
	srv := startServer(t, mailtest.Options{TLS: mailtest.StartTLS, User: "mailer", Pass: testPass})
	s := settingsFor(srv, mail.TLSStartTLS)
	s.User, s.Pass = "mailer", config.NewSecret(testPass)
	m := &mail.Mailer{RootCAs: srv.CA}
	if err := m.Probe(context.Background(), s); err != nil {
		t.Fatalf("probe: %v", err)
	}
	s.Pass = config.NewSecret("nope")
	err := m.Probe(context.Background(), s)
	var me *mail.Error
	if !errors.As(err, &me) || me.Reason != "the server refused the username or password" {
		t.Errorf("probe with a wrong password: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("a probe delivered %d messages", n)
	}
}
