package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rookery/rookery/license/licensetest"
)

// "Check now" answers what happened, and "last checked" moves only when the
// licence server was asked.
func TestLicenceCheckNowAnswersWhatHappened(t *testing.T) {
	t.Run("no key in development mode", func(t *testing.T) {
		srv := licensetest.NewServer()
		defer srv.Close()
		ta := newSQLiteApp(t, licenceEnv(srv, "", false))
		r := ta.call("POST", "/api/v1/license/refresh", ta.admin(), nil)
		m := r.JSON(t)
		lic, _ := m["license"].(map[string]any)
		status, _ := lic["license"].(map[string]any)
		if r.Status != 200 || m["outcome"] != "development" || m["checked_at"] != nil || m["last_confirmed_at"] != nil ||
			status["last_checked"] != nil || status["last_validated"] != nil {
			t.Fatalf("answer %d %s", r.Status, r.Body)
		}
		if msg, _ := m["message"].(string); !strings.Contains(msg, "nothing was checked") || strings.Contains(msg, "confirmed") {
			t.Errorf("message %q", msg)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%d requests reached the licence server", n)
		}
		// Rookery has nothing behind AI training, whatever a licence grants.
		impl := map[any]bool{}
		for _, f := range lic["implemented"].([]any) {
			impl[f] = true
		}
		if !impl["ai_analysis"] || impl["ai_training"] {
			t.Errorf("implemented: %v", lic["implemented"])
		}
	})

	t.Run("valid, refused, unreachable", func(t *testing.T) {
		srv := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional))
		defer srv.Close()
		ta := newSQLiteApp(t, licenceEnv(srv, licensetest.KeyProfessional, true))
		admin := ta.admin()

		r := ta.call("POST", "/api/v1/license/refresh", admin, nil)
		valid := r.JSON(t)
		if r.Status != 200 || valid["outcome"] != "valid" || valid["checked_at"] == nil || valid["last_confirmed_at"] != valid["checked_at"] {
			t.Fatalf("valid: %d %s", r.Status, r.Body)
		}

		srv.Fail(http.StatusServiceUnavailable)
		r = ta.call("POST", "/api/v1/license/refresh", admin, nil)
		down := r.JSON(t)
		if down["outcome"] != "unreachable" || down["checked_at"] == nil || down["last_confirmed_at"] != valid["last_confirmed_at"] ||
			!strings.Contains(down["message"].(string), "from the cache") || down["detail"] == "" {
			t.Fatalf("unreachable: %s", r.Body)
		}

		srv.Fail(0)
		srv.RemoveLicence(licensetest.KeyProfessional)
		r = ta.call("POST", "/api/v1/license/refresh", admin, nil)
		refused := r.JSON(t)
		if refused["outcome"] != "refused" || refused["last_confirmed_at"] != nil || !strings.HasPrefix(refused["message"].(string), "The licence server refused the licence") {
			t.Fatalf("refused: %s", r.Body)
		}
		if strings.Contains(string(r.Body), licensetest.KeyProfessional) {
			t.Fatal("the answer carries the licence key")
		}

		// Only admins may ask.
		viewer := ta.userWithRole(admin, "viewer@example.com", "viewer")
		if r := ta.call("POST", "/api/v1/license/refresh", viewer, nil); r.Status != http.StatusForbidden {
			t.Errorf("viewer: %d", r.Status)
		}
	})
}
