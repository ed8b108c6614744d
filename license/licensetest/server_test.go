package licensetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/license/licensetest"
)

// call posts a JSON body with the contract's headers and decodes the answer.
func call(t *testing.T, srv *licensetest.Server, path, key string, body any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func TestValidateFollowsContract(t *testing.T) {
	lic := licensetest.Professional(licensetest.KeyProfessional)
	srv := licensetest.NewServer(lic)
	defer srv.Close()
	code, v := call(t, srv, "/api/v2/validate", licensetest.KeyProfessional, map[string]string{"product": "rookery"})
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, f := range []string{"customer", "product", "license_version", "license_key", "expires_at", "issued_at", "tier", "features", "limits", "metadata"} {
		if _, ok := v[f]; !ok {
			t.Errorf("validation lacks %q", f)
		}
	}
	if _, ok := v["valid"]; ok {
		t.Error(`"valid" sent although the licence did not ask for it`)
	}
	features, _ := v["features"].([]any)
	first, _ := features[0].(map[string]any)
	if _, ok := first["name"]; !ok || first["entitled"] == nil {
		t.Errorf("features are not objects with name/entitled: %v", first)
	}
	md, _ := v["metadata"].(map[string]any)
	if md["server_id"] != lic.ServerID || lic.ServerID == "" {
		t.Errorf("metadata = %v", md)
	}
	limits, _ := v["limits"].(map[string]any)
	if limits["max_servers"] != float64(-1) {
		t.Errorf("limits = %v", limits)
	}
	if _, err := time.Parse(time.RFC3339, v["expires_at"].(string)); err != nil {
		t.Errorf("expires_at: %v", err)
	}
}

func TestErrorShapes(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional))
	defer srv.Close()
	tests := []struct {
		name string
		path string
		key  string
		body any
		want int
	}{
		{"no key", "/api/v2/validate", "", map[string]string{"product": "rookery"}, 401},
		{"unknown key", "/api/v2/validate", licensetest.KeyUnknown, map[string]string{"product": "rookery"}, 401},
		{"wrong product", "/api/v2/validate", licensetest.KeyProfessional, map[string]string{"product": "x"}, 403},
		{"not an object", "/api/v2/validate", licensetest.KeyProfessional, []int{1}, 400},
		{"unknown path", "/api/v1/validate", licensetest.KeyProfessional, map[string]string{}, 404},
		{"keepalive without server_id", "/api/v2/keepalive", licensetest.KeyProfessional, map[string]string{"product": "rookery"}, 400},
	}
	for _, tt := range tests {
		code, body := call(t, srv, tt.path, tt.key, tt.body)
		if code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
		}
		if s, _ := body["error"].(string); s == "" {
			t.Errorf("%s: body %v has no error text", tt.name, body)
		}
	}
	// Content-Type is required.
	resp, err := http.Post(srv.URL+"/api/v2/validate", "text/plain", strings.NewReader(`{"product":"rookery"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain answered %d", resp.StatusCode)
	}
}

func TestSwitchesAndRecording(t *testing.T) {
	lic := licensetest.Enterprise(licensetest.KeyEnterprise)
	srv := licensetest.NewServer(lic)
	defer srv.Close()
	body := map[string]string{"product": "rookery"}

	srv.Fail(500)
	if code, _ := call(t, srv, "/api/v2/validate", licensetest.KeyEnterprise, body); code != 500 {
		t.Errorf("Fail(500): %d", code)
	}
	srv.Fail(0)
	srv.Fail(429, "/api/v2/keepalive")
	if code, _ := call(t, srv, "/api/v2/validate", licensetest.KeyEnterprise, body); code != 200 {
		t.Errorf("validate while keepalive fails: %d", code)
	}
	ka := map[string]string{"product": "rookery", "server_id": lic.ServerID}
	if code, _ := call(t, srv, "/api/v2/keepalive", licensetest.KeyEnterprise, ka); code != 429 {
		t.Errorf("keepalive with Fail(429, keepalive): %d", code)
	}
	srv.Fail(0)
	if code, out := call(t, srv, "/api/v2/keepalive", licensetest.KeyEnterprise, ka); code != 200 || out["status"] != "ok" {
		t.Errorf("keepalive: %d %v", code, out)
	}

	reqs, err := srv.WaitFor(context.Background(), "/api/v2/keepalive", 2)
	if err != nil || len(reqs) != 2 {
		t.Fatalf("recorded keepalives = %d, %v", len(reqs), err)
	}
	if reqs[1].BearerKey() != licensetest.KeyEnterprise || reqs[1].Body["server_id"] != lic.ServerID {
		t.Error("the recorded request lacks its key or body")
	}
	if n := len(srv.Requests()); n != 4 {
		t.Errorf("recorded %d requests, want 4", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := srv.WaitFor(ctx, "/api/v2/features", 1); err == nil {
		t.Error("WaitFor returned without a request")
	}
}

func TestHangUpAndDelay(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity))
	defer srv.Close()
	srv.HangUp(true)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/validate", strings.NewReader(`{}`))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("a hung-up connection produced a response")
	}
	srv.HangUp(false)
	srv.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v2/validate", strings.NewReader(`{}`))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("a delayed answer arrived before the client's deadline")
	}
}

func TestFeaturesEndpointAndQualifiedNames(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional).Qualified())
	defer srv.Close()
	code, out := call(t, srv, "/api/v2/features", licensetest.KeyProfessional, map[string]string{"product": "rookery", "feature": "audit_logs"})
	features, _ := out["features"].([]any)
	if code != 200 || len(features) != 1 {
		t.Fatalf("features: %d %v", code, out)
	}
	if f := features[0].(map[string]any); f["name"] != "rookery.audit_logs" || f["entitled"] != true {
		t.Errorf("feature = %v", f)
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := licensetest.NewClock(start)
	tk := c.NewTicker(time.Hour)
	got := make(chan time.Time, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2; i++ {
			got <- <-tk.C()
		}
	}()
	c.Advance(30 * time.Minute) // not due: returns at once
	if len(got) != 0 {
		t.Fatal("tick before the period")
	}
	c.Advance(30 * time.Minute)
	if ts := <-got; !ts.Equal(start.Add(time.Hour)) {
		t.Errorf("tick at %v", ts)
	}
	c.Advance(5 * time.Hour) // several periods: one tick, as time.Ticker
	if ts := <-got; !ts.Equal(start.Add(6 * time.Hour)) {
		t.Errorf("tick at %v", ts)
	}
	<-done
	tk.Stop()
	if c.Tickers() != 0 {
		t.Error("stopped ticker still registered")
	}
	c.Advance(time.Hour) // nobody listens: must not block
	if !c.Now().Equal(start.Add(7 * time.Hour)) {
		t.Errorf("Now = %v", c.Now())
	}
}
