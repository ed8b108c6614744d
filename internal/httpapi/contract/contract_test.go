package contract_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/internal/httpapi/contract"
)

func checker(t *testing.T) *contract.Checker {
	t.Helper()
	doc, err := httpapi.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	c, err := contract.New(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The checker accepts what the document describes and reports the rest:
// a wrong type, an unknown field, a missing field, an undeclared status or
// content type. Paths outside the document are not its business.
func TestCheck(t *testing.T) {
	c := checker(t)
	json := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for _, tt := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		wantErr            string
	}{
		{name: "valid", method: "GET", path: "/healthz", status: 200, header: json, body: `{"status":"ok"}`},
		{name: "wrong type", method: "GET", path: "/healthz", status: 200, header: json, body: `{"status":1}`, wantErr: "status"},
		{name: "unknown field", method: "GET", path: "/healthz", status: 200, header: json, body: `{"status":"ok","extra":true}`, wantErr: "extra"},
		{name: "missing field", method: "GET", path: "/api/v1/auth/me", status: 200, header: json, body: `{"user":{"id":1,"email":"a@b.c","role":"admin"}}`, wantErr: "expires_at"},
		{name: "enum", method: "GET", path: "/api/v1/auth/me", status: 200, header: json,
			body: `{"user":{"id":1,"email":"a@b.c","role":"root"},"expires_at":"2026-11-30T10:00:00Z"}`, wantErr: "role"},
		{name: "undeclared status", method: "GET", path: "/healthz", status: 418, header: json, body: `{"error":"teapot"}`, wantErr: "status is not supported"},
		{name: "error shape", method: "GET", path: "/api/v1/users", status: 401, header: json, body: `{"error":"sign in first"}`},
		{name: "error without sentence", method: "GET", path: "/api/v1/users", status: 401, header: json, body: `{"message":"no"}`, wantErr: "error"},
		{name: "content type", method: "GET", path: "/healthz", status: 200, header: http.Header{"Content-Type": {"text/html"}}, body: `<p>ok`, wantErr: "text/html"},
		{name: "literal path before a parameter", method: "GET", path: "/api/v1/config/schema", status: 200,
			header: http.Header{"Content-Type": {"application/schema+json"}}, body: `{"type":"object"}`},
		{name: "path parameter", method: "GET", path: "/api/v1/config/smtp_port", status: 404, header: json, body: `{"error":"Configuration not found"}`},
		{name: "outside the document", method: "GET", path: "/settings", status: 200, header: http.Header{"Content-Type": {"text/html"}}, body: `<html>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			err := c.Check(context.Background(), req, nil, tt.status, tt.header, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected violation: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("no violation reported, want one about %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("violation %v, want one about %q", err, tt.wantErr)
			}
		})
	}
}

// The middleware passes the answer through unchanged and reports it.
func TestHandlerReports(t *testing.T) {
	c := checker(t)
	var got []error
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte(`{"error":"teapot"}`))
	}), func(err error) { got = append(got, err) })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusTeapot || rec.Body.String() != `{"error":"teapot"}` {
		t.Fatalf("answer changed: %d %s", rec.Code, rec.Body)
	}
	if len(got) != 1 || !strings.Contains(got[0].Error(), "418") {
		t.Fatalf("reports %v, want one about the 418", got)
	}
}

// A request the server accepted must be one the document allows; a refused
// one is not checked (tests send wrong requests on purpose).
func TestCheckAcceptedRequests(t *testing.T) {
	c := checker(t)
	json := http.Header{"Content-Type": {"application/json"}}
	answer := `{"access_token":"t","token_type":"Bearer","expires_at":"2026-11-30T10:00:00Z","expires_in":3600,` +
		`"user":{"id":1,"email":"a@b.c","role":"admin","disabled":false,"created_at":"2026-11-30T10:00:00Z","updated_at":"2026-11-30T10:00:00Z",` +
		`"sign_in_method":"password","last_sign_in_at":null,"invited":false}}`
	login := func(body string) *http.Request {
		r := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	good, bad := `{"email":"a@b.c","password":"p"}`, `{"email":"a@b.c","password":"p","remember":true}`
	if err := c.Check(context.Background(), login(good), []byte(good), 200, json, []byte(answer)); err != nil {
		t.Fatalf("a valid exchange was reported: %v", err)
	}
	err := c.Check(context.Background(), login(bad), []byte(bad), 200, json, []byte(answer))
	if err == nil || !strings.Contains(err.Error(), "remember") {
		t.Fatalf("an accepted request with a field the document does not know: %v, want a violation naming it", err)
	}
	if err := c.Check(context.Background(), login(bad), []byte(bad), 400, json, []byte(`{"error":"the body has an unknown field \"remember\""}`)); err != nil {
		t.Fatalf("a refused request was checked: %v", err)
	}
}
