package license_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// Check says what happened and never claims a confirmation that did not
// happen: "last checked" moves only when the server was asked.
func TestCheckOutcomes(t *testing.T) {
	ctx := context.Background()

	t.Run("development mode without a key asks nothing", func(t *testing.T) {
		e := newEnv(t)
		m := e.started(e.settings("", false))
		r := m.Check(ctx)
		if r.Outcome != license.OutcomeDevelopment || !r.CheckedAt.IsZero() || !r.LastConfirmed.IsZero() || r.Err != nil {
			t.Errorf("result %+v", r)
		}
		if !strings.Contains(r.Message, "nothing was checked") || strings.Contains(r.Message, "confirmed") {
			t.Errorf("message %q", r.Message)
		}
		if n := len(e.srv.Requests()); n != 0 {
			t.Errorf("%d requests reached the licence server", n)
		}
		if st := m.Status(); !st.LastChecked.IsZero() || !st.LastValidated.IsZero() {
			t.Errorf("status after a check of nothing: %+v", st)
		}
	})

	t.Run("release mode after the key was removed asks nothing", func(t *testing.T) {
		e := newEnv(t, licensetest.KeyProfessional)
		m := e.started(e.settings(licensetest.KeyProfessional, true))
		if m.Status().LastChecked.IsZero() {
			t.Fatal("the start-up validation is not recorded as a check")
		}
		_ = m.Reconfigure(ctx, e.settings("", true))
		e.srv.ResetRequests()
		r := m.Check(ctx)
		if r.Outcome != license.OutcomeNoKey || !r.CheckedAt.IsZero() || len(e.srv.Requests()) != 0 {
			t.Errorf("result %+v, %d requests", r, len(e.srv.Requests()))
		}
		if !m.Status().LastChecked.IsZero() {
			t.Error("last checked still shows the check of the removed key")
		}
	})

	t.Run("valid", func(t *testing.T) {
		e := newEnv(t, licensetest.KeyProfessional)
		m := e.started(e.settings(licensetest.KeyProfessional, true))
		e.clock.Advance(time.Hour)
		r := m.Check(ctx)
		now := e.clock.Now()
		if r.Outcome != license.OutcomeValid || !r.CheckedAt.Equal(now) || !r.LastConfirmed.Equal(now) || r.Err != nil {
			t.Errorf("result %+v, want checked and confirmed at %v", r, now)
		}
		if st := m.Status(); !st.LastChecked.Equal(now) || !st.LastValidated.Equal(now) {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("refused", func(t *testing.T) {
		e := newEnv(t, licensetest.KeyProfessional)
		m := e.started(e.settings(licensetest.KeyProfessional, true))
		e.srv.RemoveLicence(licensetest.KeyProfessional)
		e.clock.Advance(time.Minute)
		r := m.Check(ctx)
		if r.Outcome != license.OutcomeRefused || !r.CheckedAt.Equal(e.clock.Now()) || !r.LastConfirmed.IsZero() || r.Err == nil {
			t.Errorf("result %+v", r)
		}
		if !strings.HasPrefix(r.Message, "The licence server refused the licence") || !strings.Contains(r.Message, "Licensed features are off") {
			t.Errorf("message %q", r.Message)
		}
		if st := m.Status(); !st.LastChecked.Equal(e.clock.Now()) || st.Valid {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("expired", func(t *testing.T) {
		e := newEnv(t, licensetest.KeyExpired)
		m := e.manager(e.settings(licensetest.KeyExpired, false))
		r := m.Check(ctx)
		if r.Outcome != license.OutcomeRefused || r.CheckedAt.IsZero() || !strings.Contains(r.Message, "expired") ||
			!strings.Contains(r.Message, "Development mode keeps every feature on") {
			t.Errorf("result %+v", r)
		}
	})

	t.Run("a key of the wrong shape is not sent", func(t *testing.T) {
		e := newEnv(t)
		m := e.manager(e.settings("PENG-1234", false))
		r := m.Check(ctx)
		if r.Outcome != license.OutcomeRefused || !r.CheckedAt.IsZero() || len(e.srv.Requests()) != 0 || !strings.Contains(r.Message, "not sent") {
			t.Errorf("result %+v, %d requests", r, len(e.srv.Requests()))
		}
	})

	t.Run("unreachable with a cached confirmation", func(t *testing.T) {
		e := newEnv(t, licensetest.KeyProfessional)
		m := e.started(e.settings(licensetest.KeyProfessional, true))
		confirmed := e.clock.Now()
		e.clock.Advance(2 * time.Hour)
		e.srv.Fail(http.StatusServiceUnavailable)
		r := m.Check(ctx)
		if r.Outcome != license.OutcomeUnreachable || !r.CheckedAt.Equal(e.clock.Now()) || !r.LastConfirmed.Equal(confirmed) {
			t.Errorf("result %+v, want last confirmed %v", r, confirmed)
		}
		want := confirmed.UTC().Format("2 January 2006 at 15:04 UTC")
		if !strings.Contains(r.Message, "could not be reached") || !strings.Contains(r.Message, want) || !strings.Contains(r.Message, "from the cache") {
			t.Errorf("message %q lacks %q", r.Message, want)
		}
		if st := m.Status(); st.Source != license.SourceCached || !st.LastValidated.Equal(confirmed) || !st.LastChecked.Equal(e.clock.Now()) {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("unreachable without a cache", func(t *testing.T) {
		e := newEnv(t, licensetest.KeyProfessional)
		e.srv.Fail(http.StatusBadGateway)
		m := e.manager(e.settings(licensetest.KeyProfessional, true))
		r := m.Check(ctx)
		if r.Outcome != license.OutcomeUnreachable || r.CheckedAt.IsZero() || !r.LastConfirmed.IsZero() ||
			!strings.Contains(r.Message, "no cached confirmation") {
			t.Errorf("result %+v", r)
		}
	})
}

// Checks from many admins at once each get a whole answer: one validation
// at a time, every answer confirmed, and the status agrees with the last.
func TestCheckConcurrent(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	e.srv.ResetRequests()
	const n = 20
	results := make(chan license.CheckResult, n)
	for range n {
		go func() { results <- m.Check(context.Background()) }()
	}
	for range n {
		r := <-results
		if r.Outcome != license.OutcomeValid || r.CheckedAt.IsZero() || !r.CheckedAt.Equal(r.LastConfirmed) {
			t.Errorf("result %+v", r)
		}
	}
	if got := len(e.srv.RequestsTo(license.PathValidate)); got != n {
		t.Errorf("%d validations reached the server, want %d", got, n)
	}
}
