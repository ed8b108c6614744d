package killkrilltest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type call struct {
	name        string
	path        string
	contentType string
	body        string
	wantStatus  int
	wantBody    map[string]any // keys that must be present with these values; "*" means any
}

func do(t *testing.T, base string, c call) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var got map[string]any
	_ = json.Unmarshal(raw, &got)
	return resp.StatusCode, got
}

func checkBody(t *testing.T, got, want map[string]any) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("body lacks %q: %v", k, got)
			continue
		}
		if v != "*" && g != v {
			t.Errorf("body[%q] = %v, want %v", k, g, v)
		}
	}
}

// TestLogReceiverContract walks the log receiver through the contract's
// rules, one request per row.
func TestLogReceiverContract(t *testing.T) {
	r := NewLogReceiver()
	defer r.Close()
	const js = "application/json"
	calls := []call{
		{"entry accepted", LogsPath, js, `{"timestamp":"2024-01-15T10:30:00Z","log_level":"warn","message":"hi","service_name":"svc"}`,
			200, map[string]any{"status": "accepted", "log_id": float64(1), "timestamp": "*"}},
		{"charset in content type", LogsPath, "application/json; charset=utf-8", `{"message":"two"}`,
			200, map[string]any{"status": "accepted", "log_id": float64(2)}},
		{"empty body", LogsPath, js, ``, 400, map[string]any{"error": "No JSON data provided"}},
		{"text content type", LogsPath, "text/plain", `{"message":"x"}`, 400, map[string]any{"error": "No JSON data provided"}},
		{"no content type", LogsPath, "", `{"message":"x"}`, 400, map[string]any{"error": "No JSON data provided"}},
		{"numeric timestamp", LogsPath, js, `{"timestamp":12345,"message":"x"}`, 500, map[string]any{"error": "*", "timestamp": "*"}},
		{"bad iso timestamp", LogsPath, js, `{"timestamp":"yesterday","message":"x"}`, 500, map[string]any{"error": "*", "timestamp": "*"}},
		{"batch body is one garbled entry", LogsPath, js, `{"logs":[{"message":"a"},{"message":"b"}]}`,
			200, map[string]any{"status": "accepted", "log_id": float64(3)}},
		{"fallback fields", LogsPath, js, `{"level":"error","source":"old-svc"}`, 200, map[string]any{"status": "accepted"}},
		{"batch route absent", DefaultBatchPath, js, `{"logs":[]}`, 404, nil},
		{"metrics route absent", MetricsPath, js, `{"name":"x","value":1}`, 404, nil},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			status, body := do(t, r.URL(), c)
			if status != c.wantStatus {
				t.Fatalf("status = %d, want %d (body %v)", status, c.wantStatus, body)
			}
			checkBody(t, body, c.wantBody)
		})
	}
	logs := r.Logs()
	if len(logs) != 4 {
		t.Fatalf("stored %d logs, want 4", len(logs))
	}
	if l := logs[0]; l.Level != "warn" || l.Message != "hi" || l.ServiceName != "svc" || l.Timestamp != "2024-01-15T10:30:00Z" {
		t.Errorf("first entry = %+v", l)
	}
	if l := logs[1]; l.Level != "info" || l.ServiceName != "unknown" || l.Timestamp == "" {
		t.Errorf("defaults not applied: %+v", l)
	}
	if l := logs[2]; l.Message != `{"logs":[{"message":"a"},{"message":"b"}]}` || l.Level != "info" {
		t.Errorf("batch body should be one entry whose message is the body text, got %+v", l)
	}
	if l := logs[3]; l.Level != "error" || l.ServiceName != "old-svc" {
		t.Errorf("level/source fallbacks not read: %+v", l)
	}
}

func TestMetricsReceiverContract(t *testing.T) {
	r := NewMetricsReceiver()
	defer r.Close()
	const js = "application/json"
	calls := []call{
		{"metric accepted", MetricsPath, js, `{"name":"http_requests_total","type":"counter","value":3,"labels":{"path":"/x"}}`,
			200, map[string]any{"status": "success", "timestamp": "*"}},
		{"type defaults to gauge", MetricsPath, js, `{"name":"users_active","value":7}`, 200, map[string]any{"status": "success"}},
		{"string value", MetricsPath, js, `{"name":"x","value":"many"}`, 500, map[string]any{"error": "*", "timestamp": "*"}},
		{"missing value", MetricsPath, js, `{"name":"x"}`, 500, map[string]any{"error": "*"}},
		{"empty body", MetricsPath, js, ``, 400, map[string]any{"error": "No JSON data provided"}},
		{"logs route absent", LogsPath, js, `{"message":"x"}`, 404, nil},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			status, body := do(t, r.URL(), c)
			if status != c.wantStatus {
				t.Fatalf("status = %d, want %d (body %v)", status, c.wantStatus, body)
			}
			checkBody(t, body, c.wantBody)
		})
	}
	ms := r.Metrics()
	if len(ms) != 2 {
		t.Fatalf("stored %d metrics, want 2", len(ms))
	}
	if m := ms[0]; m.Name != "http_requests_total" || m.Type != "counter" || m.Value != 3 || m.Labels["path"] != "/x" {
		t.Errorf("first metric = %+v", m)
	}
	if ms[1].Type != "gauge" {
		t.Errorf("type default = %q, want gauge", ms[1].Type)
	}
}

func TestBatchMode(t *testing.T) {
	r := NewLogReceiver()
	defer r.Close()
	r.EnableBatch("")
	status, body := do(t, r.URL(), call{path: DefaultBatchPath, contentType: "application/json",
		body: `{"logs":[{"timestamp":"2024-01-15T10:30:00Z","level":"info","message":"a"},{"message":"b"}],"metrics":[{"name":"http.requests.total","value":42}]}`})
	if status != 200 {
		t.Fatalf("status %d body %v", status, body)
	}
	checkBody(t, body, map[string]any{"status": "accepted", "logs": float64(2), "metrics": float64(1)})
	if n := len(r.Logs()); n != 2 {
		t.Errorf("stored %d logs, want 2", n)
	}
	if ms := r.Metrics(); len(ms) != 1 || ms[0].Value != 42 {
		t.Errorf("metrics = %+v", ms)
	}
	// One bad entry rejects the whole batch, as a 500.
	status, _ = do(t, r.URL(), call{path: DefaultBatchPath, contentType: "application/json",
		body: `{"logs":[{"message":"ok"},{"timestamp":1}]}`})
	if status != 500 || len(r.Logs()) != 2 {
		t.Errorf("bad batch: status %d, stored %d", status, len(r.Logs()))
	}
}

func TestSwitches(t *testing.T) {
	p := NewPair()
	defer p.Close()
	get := func(url string) (int, error) {
		resp, err := http.Get(url + HealthPath)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(p.Logs.URL()); err != nil || code != 200 {
		t.Fatalf("health: %d %v", code, err)
	}
	p.SetUnhealthy(true)
	if code, _ := get(p.Metrics.URL()); code != 503 {
		t.Errorf("unhealthy health = %d, want 503", code)
	}
	p.SetUnhealthy(false)

	p.SetFailStatus(500)
	status, body := do(t, p.Logs.URL(), call{path: LogsPath, contentType: "application/json", body: `{"message":"x"}`})
	if status != 500 || body["error"] == nil || body["timestamp"] == nil {
		t.Errorf("fail 500: %d %v", status, body)
	}
	p.SetFailStatus(0)

	p.SetDown(true)
	if _, err := get(p.Logs.URL()); err == nil {
		t.Error("health answered while down")
	}
	p.SetDown(false)
	if code, err := get(p.Logs.URL()); err != nil || code != 200 {
		t.Errorf("after coming back: %d %v", code, err)
	}

	p.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.Logs.URL()+LogsPath, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Error("slow receiver answered within 50ms")
	}
	if len(p.Logs.Logs()) != 0 {
		t.Error("failed requests stored entries")
	}
	// Close must not wait for the hour-long delay.
}

func TestFailNext(t *testing.T) {
	r := NewLogReceiver()
	defer r.Close()
	r.FailNext(503, 2)
	var got []int
	for range 3 {
		status, _ := do(t, r.URL(), call{path: LogsPath, contentType: "application/json", body: `{"message":"x"}`})
		got = append(got, status)
	}
	if got[0] != 503 || got[1] != 503 || got[2] != 200 {
		t.Errorf("statuses = %v, want [503 503 200]", got)
	}
	if n := len(r.Logs()); n != 1 {
		t.Errorf("stored %d, want 1", n)
	}
}
