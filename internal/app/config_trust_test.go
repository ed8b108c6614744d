package app

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/license/licensetest"
)

// revision reads the whole-config revision GET /api/v1/config answers.
func (ta *testApp) revision(admin string) int64 {
	ta.t.Helper()
	r := ta.call("GET", "/api/v1/config", admin, nil)
	if r.Status != 200 {
		ta.t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	var body struct {
		Revision int64 `json:"revision"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		ta.t.Fatal(err)
	}
	if r.Header.Get("ETag") != `"r`+strconv.FormatInt(body.Revision, 10)+`"` {
		ta.t.Errorf("list ETag %q for revision %d", r.Header.Get("ETag"), body.Revision)
	}
	return body.Revision
}

// reentryKeys returns the secrets a 409 secret_reentry_required names.
func reentryKeys(t *testing.T, r reply) []string {
	t.Helper()
	var body struct {
		Error string   `json:"error"`
		Keys  []string `json:"keys"`
	}
	if r.Status != http.StatusConflict {
		t.Fatalf("status %d, want 409: %s", r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.Error != "secret_reentry_required" {
		t.Fatalf("409 body: %s", r.Body)
	}
	return body.Keys
}

// Issue 18 item 6 through the API: delete then re-create no longer starts
// the key at v1 again, so a stale If-Match from before the delete fails.
func TestConfigVersionsNeverReusedAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		admin := ta.admin()
		put := func(v any, ifMatch string) reply {
			return ta.call("PUT", "/api/v1/config/smtp_user", admin, map[string]any{"value": v}, "If-Match", ifMatch)
		}
		if r := put("one", `"v0"`); r.Status != 200 || r.Header.Get("ETag") != `"v1"` {
			t.Fatalf("create: %d %s %s", r.Status, r.Header.Get("ETag"), r.Body)
		}
		if r := ta.call("DELETE", "/api/v1/config/smtp_user", admin, nil, "If-Match", `"v1"`); r.Status != 200 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		r := put("two", `"v0"`)
		if r.Status != 200 || r.Header.Get("ETag") == `"v1"` {
			t.Fatalf("re-create: %d ETag %s", r.Status, r.Header.Get("ETag"))
		}
		// The ETag taken before the delete no longer matches.
		if r := put("stale writer", `"v1"`); r.Status != http.StatusPreconditionFailed {
			t.Fatalf("stale If-Match after re-create = %d %s", r.Status, r.Body)
		}
		if ta.Config.String("smtp_user") != "two" {
			t.Fatalf("value %q", ta.Config.String("smtp_user"))
		}
	})
}

// Issue 18 item 7: PATCH /api/v1/config checks every key, then writes all
// of them in one transaction, or none.
func TestConfigBatchAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		admin := ta.admin()
		if r := ta.call("PUT", "/api/v1/config/smtp_user", admin, map[string]any{"value": "before"}); r.Status != 200 {
			t.Fatal(r.Status)
		}
		rev := ta.revision(admin)

		// Every failing key, with its reason; nothing written.
		r := ta.call("PATCH", "/api/v1/config", admin, `{"values":{"smtp_port":"banana","nope":1,"smtp_from":{"a":1},"log_level":"debug","smtp_user":"after","waddleai_timeout":0}}`)
		if r.Status != 400 {
			t.Fatalf("bad batch = %d %s", r.Status, r.Body)
		}
		var bad struct {
			Error    string            `json:"error"`
			Keys     []string          `json:"keys"`
			Problems map[string]string `json:"problems"`
		}
		json.Unmarshal(r.Body, &bad)
		if strings.Join(bad.Keys, ",") != "nope,smtp_from,smtp_port,waddleai_timeout" || !strings.Contains(bad.Error, "nothing was changed") ||
			!strings.Contains(bad.Problems["smtp_port"], "whole number") || !strings.Contains(bad.Problems["nope"], "not a known setting") ||
			!strings.Contains(bad.Problems["smtp_from"], "not an object") || !strings.Contains(bad.Problems["waddleai_timeout"], "between 1 and 600") {
			t.Fatalf("400 body: %s", r.Body)
		}
		// One bad value among good ones: still nothing.
		if r := ta.call("PATCH", "/api/v1/config", admin, map[string]any{"values": map[string]any{"log_level": "debug", "smtp_user": "after", "smtp_port": 70000}}); r.Status != 400 ||
			!strings.Contains(string(r.Body), "smtp_port") || strings.Contains(string(r.Body), `"log_level"`) {
			t.Fatalf("one bad value = %d %s", r.Status, r.Body)
		}
		if ta.revision(admin) != rev || ta.Config.String("log_level") != "info" || ta.Config.String("smtp_user") != "before" {
			t.Fatal("a refused batch changed the configuration")
		}
		for _, c := range []struct{ body, want string }{
			{`{"values":{}}`, "values"},
			{`{}`, "values"},
			{`{"values":[1]}`, "wrong type"},
			{`{"values":{"smtp_user":"x"},"extra":1}`, "unknown field"},
		} {
			if r := ta.call("PATCH", "/api/v1/config", admin, c.body); r.Status != 400 || !strings.Contains(string(r.Body), c.want) {
				t.Errorf("%s = %d %s", c.body, r.Status, r.Body)
			}
		}
		if r := ta.call("PATCH", "/api/v1/config", admin, map[string]any{"values": map[string]any{"log_level": "debug"}}, "If-Match", `"v3"`); r.Status != 400 ||
			!strings.Contains(string(r.Body), "revision") {
			t.Errorf("key ETag as If-Match = %d %s", r.Status, r.Body)
		}

		// A good batch with the current revision: every key, new versions,
		// the new revision; null removes a stored value.
		r = ta.call("PATCH", "/api/v1/config", admin, `{"values":{"log_level":"debug","smtp_port":2525,"ai_features_enabled":false,"smtp_user":null,"smtp_host":null}}`,
			"If-Match", `"r`+strconv.FormatInt(rev, 10)+`"`)
		if r.Status != 200 {
			t.Fatalf("batch = %d %s", r.Status, r.Body)
		}
		var ok struct {
			Changed []struct {
				Key     string `json:"key"`
				Version int64  `json:"version"`
				Removed bool   `json:"removed"`
			} `json:"changed"`
			Revision int64 `json:"revision"`
		}
		json.Unmarshal(r.Body, &ok)
		var got []string
		for _, c := range ok.Changed {
			got = append(got, c.Key+":"+strconv.FormatInt(c.Version, 10)+":"+strconv.FormatBool(c.Removed))
		}
		if strings.Join(got, ",") != "ai_features_enabled:1:false,log_level:1:false,smtp_port:1:false,smtp_user:0:true" ||
			ok.Revision != rev+1 || r.Header.Get("ETag") != `"r`+strconv.FormatInt(rev+1, 10)+`"` {
			t.Fatalf("batch answer %s (ETag %s)", r.Body, r.Header.Get("ETag"))
		}
		if ta.Config.String("log_level") != "debug" || ta.Config.Int("smtp_port") != 2525 || ta.Config.Bool("ai_features_enabled") || ta.Config.String("smtp_user") != "" {
			t.Error("the snapshot does not show the batch")
		}
		// One audit record per key, one request id for all.
		r = ta.call("GET", "/api/v1/audit?limit=4", admin, nil)
		var audit struct {
			Audit []config.AuditRecord `json:"audit"`
		}
		json.Unmarshal(r.Body, &audit)
		ids := map[string]bool{}
		var keys []string
		for _, a := range audit.Audit {
			ids[a.RequestID] = true
			keys = append(keys, a.Key)
		}
		sort.Strings(keys)
		if len(ids) != 1 || ids[""] || strings.Join(keys, ",") != "ai_features_enabled,log_level,smtp_port,smtp_user" {
			t.Errorf("audit of the batch: %s", r.Body)
		}

		// The same revision again is stale: 412, nothing written.
		r = ta.call("PATCH", "/api/v1/config", admin, map[string]any{"values": map[string]any{"log_level": "warn"}}, "If-Match", strconv.FormatInt(rev, 10))
		if r.Status != http.StatusPreconditionFailed || !strings.Contains(string(r.Body), `"current_revision":`+strconv.FormatInt(rev+1, 10)) {
			t.Fatalf("stale revision = %d %s", r.Status, r.Body)
		}
		if ta.Config.String("log_level") != "debug" {
			t.Fatal("a stale batch wrote")
		}
	})
}

// Many admins sending a batch with the same revision at once: exactly one
// applies, every other gets 412.
func TestConfigBatchRevisionRaceAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		admin := ta.admin()
		tag := `"r` + strconv.FormatInt(ta.revision(admin), 10) + `"`
		const n = 12
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				statuses[i] = ta.call("PATCH", "/api/v1/config", admin,
					map[string]any{"values": map[string]any{"smtp_user": "writer-" + strconv.Itoa(i), "log_level": "debug"}}, "If-Match", tag).Status
			}(i)
		}
		wg.Wait()
		count := map[int]int{}
		for _, st := range statuses {
			count[st]++
		}
		if count[200] != 1 || count[412] != n-1 {
			t.Fatalf("statuses %v", count)
		}
	})
}

// Issue 18 item 7: with a secret set, the key that says where it goes
// changes only together with it, through PUT and PATCH, for every pair.
func TestSecretReentryPairsAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		lic := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity), licensetest.Professional(licensetest.KeyProfessional))
		defer lic.Close()
		lic2 := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional))
		defer lic2.Close()
		ta := startApp(t, s, map[string]string{"LICENSE_SERVER_URL": lic.URL})
		admin := ta.admin()
		pairs := []struct {
			carrier, to string
			secrets     map[string]string
		}{
			{"waddleai_url", "https://ai.attacker.example", map[string]string{"waddleai_api_key": "wa-secret"}},
			{"license_server_url", lic2.URL, map[string]string{"license_key": licensetest.KeyProfessional}},
			{"killkrill_api_url", "https://logs.attacker.example", map[string]string{"killkrill_client_secret": "kk-secret"}},
			{"killkrill_metrics_url", "https://metrics.attacker.example", map[string]string{"killkrill_client_secret": "kk-secret"}},
			{"marchproxy_api", "https://mp.attacker.example", map[string]string{"marchproxy_password": "mp-secret", "cluster_api_key": "ck-secret"}},
			{"smtp_host", "smtp.attacker.example", map[string]string{"smtp_pass": "smtp-secret"}},
			{"smtp_port", "2525", map[string]string{"smtp_pass": "smtp-secret"}},
		}
		for _, p := range pairs {
			var names []string
			for k, v := range p.secrets {
				names = append(names, k)
				if r := ta.call("PUT", "/api/v1/config/"+k, admin, map[string]any{"value": v}); r.Status != 200 {
					t.Fatalf("%s: set %s: %d %s", p.carrier, k, r.Status, r.Body)
				}
			}
			sort.Strings(names)
			before := ta.Config.String(p.carrier)
			// PUT alone: refused, naming the secrets.
			if got := reentryKeys(t, ta.call("PUT", "/api/v1/config/"+p.carrier, admin, map[string]any{"value": p.to})); !reflect.DeepEqual(got, names) {
				t.Errorf("%s: PUT names %v, want %v", p.carrier, got, names)
			}
			// PATCH with only some of the secrets: refused, naming the rest.
			if len(names) > 1 {
				vals := map[string]any{p.carrier: p.to, names[0]: p.secrets[names[0]]}
				if got := reentryKeys(t, ta.call("PATCH", "/api/v1/config", admin, map[string]any{"values": vals})); !reflect.DeepEqual(got, names[1:]) {
					t.Errorf("%s: partial PATCH names %v", p.carrier, got)
				}
			}
			if ta.Config.String(p.carrier) != before {
				t.Fatalf("%s changed although refused", p.carrier)
			}
			// PATCH with every secret: accepted.
			vals := map[string]any{p.carrier: p.to}
			for k, v := range p.secrets {
				vals[k] = v + "-again"
				if k == "license_key" {
					vals[k] = v
				}
			}
			if r := ta.call("PATCH", "/api/v1/config", admin, map[string]any{"values": vals}); r.Status != 200 {
				t.Fatalf("%s: PATCH with the secrets = %d %s", p.carrier, r.Status, r.Body)
			}
			if ta.Config.String(p.carrier) != p.to {
				t.Errorf("%s = %q after the batch", p.carrier, ta.Config.String(p.carrier))
			}
		}
		// Removing the secret in the same batch is giving it too.
		if r := ta.call("PATCH", "/api/v1/config", admin, map[string]any{"values": map[string]any{"waddleai_url": "https://ai2.example", "waddleai_api_key": nil}}); r.Status != 200 {
			t.Fatalf("URL with the key removed = %d %s", r.Status, r.Body)
		}
		// Without the secret, the URL changes alone.
		if r := ta.call("PUT", "/api/v1/config/waddleai_url", admin, map[string]any{"value": "https://ai3.example"}); r.Status != 200 {
			t.Fatalf("URL without a key = %d %s", r.Status, r.Body)
		}
		// DELETE of a carrier that falls back somewhere else is a change too.
		if r := ta.call("PUT", "/api/v1/config/smtp_pass", admin, map[string]any{"value": "pw"}); r.Status != 200 {
			t.Fatal(r.Status)
		}
		if got := reentryKeys(t, ta.call("DELETE", "/api/v1/config/smtp_port", admin, nil)); !reflect.DeepEqual(got, []string{"smtp_pass"}) {
			t.Errorf("DELETE names %v", got)
		}
	})
}

// A secret set only in the environment is protected the same way.
func TestSecretReentryFromEnvironmentAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, map[string]string{"WADDLEAI_API_KEY": "wa-from-env", "WADDLEAI_URL": "http://waddleai.internal:8080"})
		admin := ta.admin()
		// Bootstrap from the environment stored both: delete the stored key
		// so it lives in the environment only.
		if r := ta.call("DELETE", "/api/v1/config/waddleai_api_key", admin, nil); r.Status != 200 {
			t.Fatalf("delete stored key: %d %s", r.Status, r.Body)
		}
		if got := reentryKeys(t, ta.call("PUT", "/api/v1/config/waddleai_url", admin, map[string]any{"value": "https://attacker.example"})); !reflect.DeepEqual(got, []string{"waddleai_api_key"}) {
			t.Errorf("names %v", got)
		}
		// Removing it would leave the environment's key in force: still refused.
		reentryKeys(t, ta.call("PATCH", "/api/v1/config", admin, map[string]any{"values": map[string]any{"waddleai_url": "https://attacker.example", "waddleai_api_key": nil}}))
		if ta.Config.String("waddleai_url") != "http://waddleai.internal:8080" {
			t.Fatal("URL changed")
		}
	})
}

// Issue 18 item 11: after a rotation (one transaction over the config
// values and the app secrets) a server starts with the new key alone,
// and tokens signed before still verify.
func TestRotationThenStartWithNewKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		oldKey, _ := config.NewKey()
		newKey, _ := config.NewKey()
		ta := startApp(t, s, map[string]string{"CONFIG_ENCRYPTION_KEY": config.EncodeKey(oldKey)})
		admin := ta.admin()
		if r := ta.call("PUT", "/api/v1/config/waddleai_api_key", admin, map[string]any{"value": "wa-rotated"}); r.Status != 200 {
			t.Fatal(r.Status)
		}
		next, _ := config.NewSealer(newKey, oldKey)
		res, err := ta.Store.RotateKey(context.Background(), next, config.Origin{Actor: "test"})
		if err != nil || res.Values != 1 || res.AppSecrets != 1 {
			t.Fatalf("rotate: %+v %v", res, err)
		}
		tb := startApp(t, s, map[string]string{"CONFIG_ENCRYPTION_KEY": config.EncodeKey(newKey)})
		if tb.Config.Secret("waddleai_api_key").Reveal() != "wa-rotated" {
			t.Error("secret not readable with the new key")
		}
		if r := tb.call("GET", "/api/v1/config/waddleai_api_key", admin, nil); r.Status != 200 || strings.Contains(string(r.Body), "unreadable") {
			t.Errorf("token from before the rotation on the new server: %d %s", r.Status, r.Body)
		}
		tb.admin()
	})
}

// Issue 18 item 10: a tampered sealed row no longer stops the server; the
// API says the key cannot be read and how to clear it.
func TestUnreadableRowAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		key, _ := config.NewKey()
		env := map[string]string{"CONFIG_ENCRYPTION_KEY": config.EncodeKey(key), "SMTP_PASS": "env-pass"}
		ta := startApp(t, s, env)
		admin := ta.admin()
		const secret = "stored-pass-123"
		if r := ta.call("PUT", "/api/v1/config/smtp_pass", admin, map[string]any{"value": secret}); r.Status != 200 {
			t.Fatal(r.Status)
		}
		var v string
		ta.DB.QueryRow(ta.DB.Rebind(`SELECT config_value FROM config WHERE config_key = ?`), "smtp_pass").Scan(&v)
		i := len(v) - 10
		flip := "A"
		if v[i] == 'A' {
			flip = "B"
		}
		if _, err := ta.DB.Exec(ta.DB.Rebind(`UPDATE config SET config_value = ? WHERE config_key = ?`), v[:i]+flip+v[i+1:], "smtp_pass"); err != nil {
			t.Fatal(err)
		}

		tb, err := tryStartApp(t, s, env)
		if err != nil {
			t.Fatalf("start with a tampered row: %v", err)
		}
		if tb.Config.Secret("smtp_pass").Reveal() != "env-pass" {
			t.Error("the tampered key does not fall back to its environment value")
		}
		logs := tb.logs.String()
		if !strings.Contains(logs, `"key":"smtp_pass"`) || !strings.Contains(logs, "cannot be decrypted") || strings.Contains(logs, secret) {
			t.Errorf("start-up log: %s", logs)
		}
		r := tb.call("GET", "/api/v1/config/smtp_pass", admin, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"unreadable":true`) || !strings.Contains(string(r.Body), "--force") ||
			!strings.Contains(string(r.Body), `"source":"environment"`) || strings.Contains(string(r.Body), "env-pass") {
			t.Fatalf("view: %d %s", r.Status, r.Body)
		}
		if r := tb.call("GET", "/api/v1/config?category=email", admin, nil); !strings.Contains(string(r.Body), `"unreadable":true`) {
			t.Errorf("list: %s", r.Body)
		}
		if r := tb.call("DELETE", "/api/v1/config/smtp_pass", admin, nil); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "--force") {
			t.Errorf("delete = %d %s", r.Status, r.Body)
		}
		if r := tb.call("PUT", "/api/v1/config/smtp_pass", admin, map[string]any{"value": "replacement"}); r.Status != 200 || strings.Contains(string(r.Body), "unreadable") {
			t.Fatalf("replace = %d %s", r.Status, r.Body)
		}
		if tb.Config.Secret("smtp_pass").Reveal() != "replacement" {
			t.Error("replacement not in force")
		}
	})
}
