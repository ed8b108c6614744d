package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/internal/mail"
	"github.com/rookery/rookery/internal/neterr"
	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/marchproxy"
	"github.com/rookery/rookery/waddleai"
)

// probeTimeout bounds each call a connection test makes.
const probeTimeout = 5 * time.Second

// integrationTests are the "Test connection" buttons of the integrations
// page: each asks its service something real and says how it went.
func (a *App) integrationTests() httpapi.IntegrationTests {
	return httpapi.IntegrationTests{
		"license":    a.testLicense,
		"waddleai":   a.testWaddleAI,
		"killkrill":  a.testKillKrill,
		"marchproxy": a.testMarchProxy,
		"email":      a.testEmail,
	}
}

// failed is a failed test: what could not be done, why in words when the
// failure is a recognisable network one, and the error as detail.
func failed(what string, err error) httpapi.IntegrationTest {
	msg := what + "."
	if why := neterr.Reason(err); why != "" {
		msg = what + ": " + why + "."
	}
	return httpapi.IntegrationTest{Message: msg, Detail: err.Error()}
}

// testLicense validates the licence now, as "Check now" does; without a
// key it only sees whether the licence server answers.
func (a *App) testLicense(ctx context.Context) httpapi.IntegrationTest {
	url := a.Keys.License.ServerURL.Get()
	if a.Keys.License.Key.Get().IsZero() {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		if err := reachable(ctx, url); err != nil {
			return failed("The licence server at "+url+" could not be reached", err)
		}
		return httpapi.IntegrationTest{OK: true, Message: "The licence server at " + url + " answered. No licence key is set, so no licence was checked."}
	}
	r := a.License.Check(ctx)
	out := httpapi.IntegrationTest{OK: r.Outcome == license.OutcomeValid, Message: r.Message}
	if r.Err != nil {
		out.Detail = r.Err.Error()
		if why := neterr.Reason(r.Err); why != "" && r.Outcome == license.OutcomeUnreachable {
			out.Message = "The licence server at " + url + " could not be reached: " + why + ". " + r.Message
		}
	}
	return out
}

// testWaddleAI asks the gateway's health endpoint, then lists the models
// with the API key, which shows whether the key is accepted.
func (a *App) testWaddleAI(ctx context.Context) httpapi.IntegrationTest {
	url := a.Keys.WaddleAI.URL.Get()
	if a.AI == nil {
		return httpapi.IntegrationTest{Message: "WaddleAI is not set up in this process: its settings were refused at start. Check waddleai_url and restart rookery."}
	}
	hctx, cancel := context.WithTimeout(ctx, probeTimeout)
	err := a.AI.Health(hctx)
	cancel()
	if err != nil {
		return failed("WaddleAI at "+url+" could not be reached", err)
	}
	if a.Keys.WaddleAI.APIKey.Get().IsZero() {
		return httpapi.IntegrationTest{Message: "WaddleAI at " + url + " is up, but no API key is set (waddleai_api_key), so it will refuse requests."}
	}
	mctx, cancel := context.WithTimeout(ctx, probeTimeout)
	models, err := a.AI.Models(mctx)
	cancel()
	switch {
	case errors.Is(err, waddleai.ErrUnauthorized):
		return httpapi.IntegrationTest{Message: "WaddleAI at " + url + " is up but refused the API key (waddleai_api_key).", Detail: err.Error()}
	case err != nil:
		return failed("WaddleAI at "+url+" is up, but listing its models failed", err)
	}
	return httpapi.IntegrationTest{OK: true, Message: fmt.Sprintf("WaddleAI at %s is up and accepted the API key; it offers %d model(s).", url, len(models))}
}

// testKillKrill asks each receiver's health endpoint.
func (a *App) testKillKrill(ctx context.Context) httpapi.IntegrationTest {
	if a.Shipper == nil {
		return httpapi.IntegrationTest{Message: "This process has no KillKrill shipper: it logs locally only."}
	}
	cfg := a.Shipper.Config()
	if !cfg.Enabled {
		return httpapi.IntegrationTest{Message: "KillKrill shipping is off (killkrill_enabled), so there is nothing to test. Logs stay local."}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := a.Shipper.Health(ctx); err != nil {
		if errors.Is(err, killkrill.ErrDisabled) {
			return httpapi.IntegrationTest{Message: "KillKrill shipping was switched off while testing."}
		}
		return failed("The KillKrill receiver at "+cfg.LogURL+" did not report healthy", err)
	}
	return httpapi.IntegrationTest{OK: true, Message: "The KillKrill receivers at " + cfg.LogURL + " report healthy."}
}

// testMarchProxy asks the API server's health endpoint and, when an
// account is set, signs in with it.
func (a *App) testMarchProxy(ctx context.Context) httpapi.IntegrationTest {
	mp := MarchProxySettings(a.Keys, a.Settings)
	api := mp.APIOrDefault()
	c, err := marchproxy.NewClient(api, marchproxy.WithHTTPClient(a.tracedClient()))
	if err != nil {
		return httpapi.IntegrationTest{Message: "The MarchProxy API address (marchproxy_api) is not usable.", Detail: err.Error()}
	}
	hctx, cancel := context.WithTimeout(ctx, probeTimeout)
	h, err := c.Health(hctx)
	cancel()
	if err != nil {
		return failed("The MarchProxy API at "+api+" could not be reached", err)
	}
	version := ""
	if h.Version != "" {
		version = " (version " + h.Version + ")"
	}
	if mp.Username == "" || mp.Password.IsZero() {
		return httpapi.IntegrationTest{OK: true, Message: "The MarchProxy API at " + api + " answered" + version + ". No account is set (marchproxy_username, marchproxy_password), so sign-in was not tried."}
	}
	lctx, cancel := context.WithTimeout(ctx, probeTimeout)
	_, err = c.Login(lctx, mp.Username, mp.Password, "")
	cancel()
	switch {
	case errors.Is(err, marchproxy.ErrTOTPRequired):
		return httpapi.IntegrationTest{Message: "The MarchProxy API at " + api + " answered" + version + ", but the account " + mp.Username + " needs a two-factor code, which rookery cannot give.", Detail: err.Error()}
	case errors.Is(err, marchproxy.ErrUnauthorized) || errors.Is(err, marchproxy.ErrForbidden):
		return httpapi.IntegrationTest{Message: "The MarchProxy API at " + api + " answered" + version + ", but refused the account " + mp.Username + ".", Detail: err.Error()}
	case err != nil:
		return failed("The MarchProxy API at "+api+" answered"+version+", but signing in as "+mp.Username+" failed", err)
	}
	return httpapi.IntegrationTest{OK: true, Message: "The MarchProxy API at " + api + " answered" + version + " and accepted the account " + mp.Username + "."}
}

// testEmail connects to the SMTP server and goes as far as the settings
// ask (EHLO, STARTTLS, AUTH), then quits: nothing is sent.
func (a *App) testEmail(ctx context.Context) httpapi.IntegrationTest {
	st := a.Mail.Settings()
	if !st.Configured() {
		return httpapi.IntegrationTest{Message: "No SMTP server and sender are set (smtp_host, smtp_from), so there is nothing to test."}
	}
	addr := net.JoinHostPort(st.Host, strconv.Itoa(st.Port))
	err := a.Mail.Probe(ctx)
	var me *mail.Error
	switch {
	case err == nil && st.User == "":
		return httpapi.IntegrationTest{OK: true, Message: "The SMTP server at " + addr + " accepted the connection (no sign-in is set). No email was sent."}
	case err == nil:
		return httpapi.IntegrationTest{OK: true, Message: "The SMTP server at " + addr + " accepted the connection and the sign-in as " + st.User + ". No email was sent."}
	case errors.As(err, &me):
		return httpapi.IntegrationTest{Message: "The SMTP server cannot be used: " + me.Reason + ".", Detail: me.Detail}
	}
	return failed("The SMTP server at "+addr+" could not be checked", err)
}
