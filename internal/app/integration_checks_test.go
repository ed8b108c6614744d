package app

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/mail/mailtest"
	"github.com/rookery/rookery/killkrill/killkrilltest"
	"github.com/rookery/rookery/license/licensetest"
	"github.com/rookery/rookery/marchproxy/marchproxytest"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

// closedURL is an http URL on this machine where nothing listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

type testAnswer struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Detail  string `json:"detail"`
}

func (ta *testApp) testIntegration(token, name string) testAnswer {
	ta.t.Helper()
	r := ta.call("POST", "/api/v1/integrations/"+name+"/test", token, nil)
	m := r.JSON(ta.t)
	if r.Status != 200 {
		ta.t.Fatalf("test %s: %d %s", name, r.Status, r.Body)
	}
	ok, _ := m["ok"].(bool)
	msg, _ := m["message"].(string)
	detail, _ := m["detail"].(string)
	return testAnswer{ok, msg, detail}
}

// Each "Test connection" asks its service something real and answers with
// a sentence; the error chain is only in the detail.
func TestIntegrationConnectionTests(t *testing.T) {
	lic := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional))
	defer lic.Close()
	gw := waddleaitest.NewServer()
	defer gw.Close()
	mp := marchproxytest.NewServer(marchproxytest.WithUser("importer", "importer-pass"))
	defer mp.Close()
	pair := killkrilltest.NewPair()
	defer pair.Close()

	env := licenceEnv(lic, licensetest.KeyProfessional, true)
	for k, v := range aiEnv(gw, nil) {
		env[k] = v
	}
	env["MARCHPROXY_API"] = mp.URL
	env["MARCHPROXY_USERNAME"] = "importer"
	env["MARCHPROXY_PASSWORD"] = "importer-pass"
	env["KILLKRILL_ENABLED"] = "true"
	env["KILLKRILL_API_URL"] = pair.Logs.URL()
	env["KILLKRILL_METRICS_URL"] = pair.Metrics.URL()
	ta, _ := shipped(t, env)
	admin := ta.admin()

	for _, c := range []struct{ name, want string }{
		{"license", "The licence server confirmed the licence just now."},
		{"waddleai", "accepted the API key"},
		{"marchproxy", "accepted the account importer"},
		{"killkrill", "report healthy"},
	} {
		got := ta.testIntegration(admin, c.name)
		if !got.OK || !strings.Contains(got.Message, c.want) {
			t.Errorf("%s up: %+v, want ok and %q", c.name, got, c.want)
		}
	}

	// Each service down, or refusing: ok false, a sentence, the chain as detail.
	lic.Fail(503)
	mp.SetDown(true)
	pair.SetDown(true)
	gw.Close()
	for _, c := range []struct{ name, want string }{
		{"license", "could not be reached"},
		{"waddleai", "could not be reached: nothing accepted the connection (connection refused)."},
		{"marchproxy", "could not be reached"},
		{"killkrill", "did not report healthy"},
	} {
		got := ta.testIntegration(admin, c.name)
		if got.OK || !strings.Contains(got.Message, c.want) || got.Detail == "" {
			t.Errorf("%s down: %+v, want a failure saying %q with detail", c.name, got, c.want)
		}
		if strings.Contains(got.Message, "dial tcp") || strings.Contains(got.Message, "importer-pass") || strings.Contains(got.Detail, "importer-pass") {
			t.Errorf("%s down: the answer carries internals or a secret: %+v", c.name, got)
		}
	}
	lic.Fail(0)

	// A wrong account and a wrong key are said as such.
	mp.SetDown(false)
	if r := ta.call("PUT", "/api/v1/config/marchproxy_password", admin, map[string]any{"value": "wrong-pass"}); r.Status != 200 {
		t.Fatalf("set password: %d %s", r.Status, r.Body)
	}
	if got := ta.testIntegration(admin, "marchproxy"); got.OK || !strings.Contains(got.Message, "refused the account importer") {
		t.Errorf("wrong password: %+v", got)
	}

	if r := ta.call("POST", "/api/v1/integrations/nothing/test", admin, nil); r.Status != 404 || !strings.Contains(string(r.Body), "use one of email, killkrill, license, marchproxy, waddleai.") {
		t.Errorf("unknown integration: %d %s", r.Status, r.Body)
	}
	viewer := ta.userWithRole(admin, "viewer@example.com", "viewer")
	if r := ta.call("POST", "/api/v1/integrations/license/test", viewer, nil); r.Status != 403 {
		t.Errorf("viewer may test: %d", r.Status)
	}
}

// The AI page learns before anyone types whether the gateway can answer.
func TestAIGatewayState(t *testing.T) {
	gw := waddleaitest.NewServer()
	defer gw.Close()
	ta := newSQLiteApp(t, aiEnv(gw, nil))
	admin := ta.admin()
	viewer := ta.userWithRole(admin, "viewer@example.com", "viewer")

	m := ta.call("GET", "/api/v1/ai/gateway", viewer, nil).JSON(t)
	if m["configured"] != true || m["reachable"] != true {
		t.Errorf("gateway up: %v", m)
	}
	gw.Close()
	m = ta.call("GET", "/api/v1/ai/gateway", viewer, nil).JSON(t)
	if m["reachable"] != false || !strings.Contains(m["message"].(string), "cannot be reached right now (nothing accepted the connection") || m["detail"] != nil {
		t.Errorf("gateway down, viewer: %v", m)
	}
	if m = ta.call("GET", "/api/v1/ai/gateway", admin, nil).JSON(t); m["detail"] == nil {
		t.Errorf("gateway down, admin has no detail: %v", m)
	}

	noKey := newSQLiteApp(t, map[string]string{"WADDLEAI_URL": closedURL(t)})
	m = noKey.call("GET", "/api/v1/ai/gateway", noKey.admin(), nil).JSON(t)
	if m["configured"] != false || !strings.Contains(m["message"].(string), "no API key") {
		t.Errorf("no key: %v", m)
	}
}

// The email test connects and signs in as the settings ask, sends nothing,
// and names a refused password as such.
func TestEmailConnectionTest(t *testing.T) {
	srv, err := mailtest.Start(mailtest.Options{TLS: mailtest.Plain, User: "mailer", Pass: "the-smtp-password"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ta := newSQLiteApp(t, map[string]string{"SMTP_HOST": srv.Host, "SMTP_PORT": fmt.Sprint(srv.Port), "SMTP_TLS": "none",
		"SMTP_FROM": "rookery@example.com", "SMTP_USER": "mailer", "SMTP_PASS": "the-smtp-password"})
	admin := ta.admin()

	if got := ta.testIntegration(admin, "email"); !got.OK || !strings.Contains(got.Message, "accepted the connection and the sign-in as mailer") {
		t.Errorf("email up: %+v", got)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the test sent %d message(s)", n)
	}

	if r := ta.call("PUT", "/api/v1/config/smtp_pass", admin, map[string]any{"value": "wrong-password"}); r.Status != 200 {
		t.Fatalf("set password: %d %s", r.Status, r.Body)
	}
	got := ta.testIntegration(admin, "email")
	if got.OK || got.Message != "The SMTP server cannot be used: the server refused the username or password." {
		t.Errorf("wrong password: %+v", got)
	}
	if strings.Contains(got.Message+got.Detail, "wrong-password") {
		t.Errorf("the answer carries the password: %+v", got)
	}

	srv.SetDown(true)
	if got := ta.testIntegration(admin, "email"); got.OK || !strings.Contains(got.Message, "connection refused") {
		t.Errorf("email down: %+v", got)
	}
}
