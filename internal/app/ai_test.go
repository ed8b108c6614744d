package app

import (
	"bufio"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/license/licensetest"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

func aiEnv(gw *waddleaitest.Server, extra map[string]string) map[string]string {
	env := map[string]string{"WADDLEAI_URL": gw.URL, "WADDLEAI_API_KEY": gw.APIKey(), "WADDLEAI_TIMEOUT": "2"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestAIByLicenceTier(t *testing.T) {
	gw := waddleaitest.NewServer(waddleaitest.WithResponder(waddleaitest.Reply(`{"label":"positive","score":0.9}`)))
	defer gw.Close()
	lic := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity), licensetest.Professional(licensetest.KeyProfessional),
		licensetest.Enterprise(licensetest.KeyEnterprise))
	defer lic.Close()
	cases := []struct {
		name            string
		env             map[string]string
		analyze, featOK int
		training        bool
	}{
		{"development", map[string]string{}, 200, 200, true},
		{"community", licenceEnv(lic, licensetest.KeyCommunity, true), 403, 200, false},
		{"professional", licenceEnv(lic, licensetest.KeyProfessional, true), 200, 200, false},
		{"enterprise", licenceEnv(lic, licensetest.KeyEnterprise, true), 200, 200, true},
		{"switched off", map[string]string{"AI_FEATURES_ENABLED": "false"}, 403, 200, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ta := newSQLiteApp(t, aiEnv(gw, c.env))
			admin := ta.admin()
			viewer := ta.userWithRole(admin, "v@example.com", "viewer")
			r := ta.call("POST", "/api/v1/ai/analyze", viewer, map[string]string{"text": "I love it", "task": "sentiment"})
			if r.Status != c.analyze {
				t.Fatalf("analyze = %d %s", r.Status, r.Body)
			}
			if c.analyze == 200 && !strings.Contains(string(r.Body), `"label":"positive"`) {
				t.Errorf("analysis: %s", r.Body)
			}
			if c.analyze == 403 && c.name == "community" {
				if m := r.JSON(t); m["error"] != "feature_not_entitled" || m["feature"] != "ai_analysis" {
					t.Errorf("403 body %s", r.Body)
				}
			}
			f := ta.call("GET", "/api/v1/ai/features", viewer, nil)
			if f.Status != c.featOK || strings.Contains(string(f.Body), `"ai_training":true`) != c.training {
				t.Errorf("features = %d %s", f.Status, f.Body)
			}
			if r := ta.call("POST", "/api/v1/ai/analyze", "", map[string]string{"text": "x"}); r.Status != 401 {
				t.Errorf("anonymous analyze = %d", r.Status)
			}
		})
	}
}

func TestAIGenerateErrorsAndRuntimeURL(t *testing.T) {
	gw := waddleaitest.NewServer(waddleaitest.WithResponder(waddleaitest.Reply("Hello from the gateway")))
	defer gw.Close()
	ta := newSQLiteApp(t, aiEnv(gw, nil))
	admin := ta.admin()

	r := ta.call("POST", "/api/v1/ai/generate", admin, map[string]any{"prompt": "Say hi", "context": "You are terse."})
	if r.Status != 200 || r.JSON(t)["response"] != "Hello from the gateway" || !strings.Contains(string(r.Body), `"usage"`) {
		t.Fatalf("generate = %d %s", r.Status, r.Body)
	}
	if req, ok := gw.LastRequest("/v1/chat/completions"); !ok || req.System() != "You are terse." || req.LastUser() != "Say hi" {
		t.Errorf("gateway saw system %q user %q", req.System(), req.LastUser())
	}

	// Input limits and bad input.
	for _, c := range []struct {
		body   any
		status int
	}{
		{map[string]any{"prompt": ""}, 400},
		{map[string]any{"prompt": strings.Repeat("a", 32001)}, 413},
		{map[string]any{"prompt": "ok", "context": strings.Repeat("b", 32001)}, 413},
		{`{"prompt": 5}`, 400},
	} {
		if r := ta.call("POST", "/api/v1/ai/generate", admin, c.body); r.Status != c.status {
			t.Errorf("generate %v = %d, want %d", c.body, r.Status, c.status)
		}
	}
	if r := ta.call("POST", "/api/v1/ai/analyze", admin, map[string]any{"text": "x", "task": "poetry"}); r.Status != 400 || !strings.Contains(string(r.Body), "sentiment") {
		t.Errorf("unknown task = %d %s", r.Status, r.Body)
	}

	// Gateway errors map to clear statuses and never carry the key.
	for _, c := range []struct {
		fault  waddleaitest.Fault
		status int
	}{
		{waddleaitest.FaultBlocked, 422}, {waddleaitest.FaultUnauthorized, 502}, {waddleaitest.FaultOverloaded, 429},
		{waddleaitest.FaultBadGateway, 502}, {waddleaitest.FaultServerError, 502},
	} {
		gw.FailNext(c.fault, c.fault, c.fault)
		r := ta.call("POST", "/api/v1/ai/generate", admin, map[string]any{"prompt": "hi"})
		if r.Status != c.status {
			t.Errorf("%v: status %d, want %d: %s", c.fault, r.Status, c.status, r.Body)
		}
		if strings.Contains(string(r.Body), gw.APIKey()) {
			t.Errorf("%v: key leaked", c.fault)
		}
		gw.Reset()
	}
	if strings.Contains(ta.logs.String(), gw.APIKey()) {
		t.Fatal("the WaddleAI key leaked into the logs")
	}

	// A slow gateway past waddleai_timeout answers 504.
	gw.SetDelay(3 * time.Second)
	if r := ta.call("POST", "/api/v1/ai/generate", admin, map[string]any{"prompt": "hi"}); r.Status != 504 {
		t.Errorf("slow gateway = %d %s", r.Status, r.Body)
	}
	gw.SetDelay(0)

	// Changing waddleai_url sends the next call to the new gateway.
	gw2 := waddleaitest.NewServer(waddleaitest.WithResponder(waddleaitest.Reply("second gateway")))
	defer gw2.Close()
	// The key goes along with the URL (the URL carries it), in one batch.
	if r := ta.call("PATCH", "/api/v1/config", admin, map[string]any{"values": map[string]string{"waddleai_url": gw2.URL, "waddleai_api_key": gw2.APIKey()}}); r.Status != 200 {
		t.Fatalf("set waddleai_url and waddleai_api_key: %d %s", r.Status, r.Body)
	}
	if r := ta.call("POST", "/api/v1/ai/generate", admin, map[string]any{"prompt": "who?"}); r.JSON(t)["response"] != "second gateway" {
		t.Fatalf("after URL change: %s", r.Body)
	}
	if gw2.Calls("/v1/chat/completions") != 1 {
		t.Errorf("new gateway calls = %d", gw2.Calls("/v1/chat/completions"))
	}
}

func TestAIGenerateStream(t *testing.T) {
	gw := waddleaitest.NewServer(waddleaitest.WithResponder(waddleaitest.Reply("one two three")))
	defer gw.Close()
	ta := newSQLiteApp(t, aiEnv(gw, nil))
	admin := ta.admin()
	events := func() []string {
		req, _ := http.NewRequest("POST", ta.URL+"/api/v1/ai/generate?stream=true", strings.NewReader(`{"prompt":"count"}`))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
		}
		var out []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				out = append(out, ev)
			}
		}
		return out
	}
	ev := events()
	if len(ev) < 2 || ev[0] != "delta" || ev[len(ev)-1] != "done" {
		t.Fatalf("stream events %v", ev)
	}
	gw.SetFault(waddleaitest.FaultMidStreamError)
	ev = events()
	if ev[len(ev)-1] != "error" {
		t.Fatalf("mid-stream error events %v", ev)
	}
	gw.SetFault(waddleaitest.FaultNone)
	gw.SetIgnoreStream(true)
	if ev = events(); ev[len(ev)-1] != "done" {
		t.Fatalf("gateway ignoring stream: %v", ev)
	}
}

// TestAIOverhead prints the time rookery adds to an AI call: the median
// of calls through rookery minus the median of direct calls.
func TestAIOverhead(t *testing.T) {
	gw := waddleaitest.NewServer(waddleaitest.WithResponder(waddleaitest.Reply("ok")))
	defer gw.Close()
	ta := newSQLiteApp(t, aiEnv(gw, nil))
	admin := ta.admin()
	const n = 200
	median := func(f func()) time.Duration {
		ds := make([]time.Duration, n)
		for i := range ds {
			start := time.Now()
			f()
			ds[i] = time.Since(start)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[n/2]
	}
	body := `{"messages":[{"role":"user","content":"hi"}]}`
	direct := median(func() {
		req, _ := http.NewRequest("POST", gw.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+gw.APIKey())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	through := median(func() {
		if r := ta.call("POST", "/api/v1/ai/generate", admin, map[string]any{"prompt": "hi"}); r.Status != 200 {
			t.Fatalf("generate %d", r.Status)
		}
	})
	t.Logf("AI overhead: direct median %v, through rookery median %v, rookery adds %v per call (n=%d)", direct, through, through-direct, n)
	if through < direct {
		t.Logf("through rookery was faster than direct: noise on a busy machine")
	}
}
