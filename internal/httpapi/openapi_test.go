package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/httpapi/contract"
)

// TestMain puts the contract check in front of every server this
// package's tests build: an answer the API document does not describe (an
// undeclared status, field or type) fails the run.
func TestMain(m *testing.M) {
	doc, err := OpenAPI()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the API document:", err)
		os.Exit(1)
	}
	checker, err := contract.New(context.Background(), doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var violations []string
	answerHook = func(h http.Handler) http.Handler {
		return checker.Handler(h, func(err error) {
			mu.Lock()
			violations = append(violations, err.Error())
			mu.Unlock()
		})
	}
	code := m.Run()
	if len(violations) > 0 {
		fmt.Fprintf(os.Stderr, "%d answers the API document does not describe:\n%s\n", len(violations), strings.Join(violations, "\n---\n"))
		code = 1
	}
	os.Exit(code)
}

// The committed docs/openapi.json is what the declarations generate, and
// is a valid OpenAPI 3.1 document (as far as kin-openapi validates 3.1).
func TestOpenAPIDocumentCommittedAndValid(t *testing.T) {
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := contract.New(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != string(doc) {
		t.Fatal("docs/openapi.json is stale; regenerate it: go run ./internal/httpapi/openapigen > docs/openapi.json")
	}
}

// Every route the server registers is in the document, and every route in
// the document is registered.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	s := New(Deps{License: devLicence(t), UI: http.NotFoundHandler(),
		Integrations:     func(context.Context) Integrations { return Integrations{} },
		KillKrill:        func(context.Context) KillKrillReport { return KillKrillReport{} },
		IntegrationTests: IntegrationTests{"license": func(context.Context) IntegrationTest { return IntegrationTest{} }}})
	var registered []string
	for _, p := range s.mux.Patterns() {
		if p == "/" || p == "/api/" { // the web interface and the API's 404
			continue
		}
		registered = append(registered, p)
	}
	var declared []string
	for _, r := range apiRoutes() {
		declared = append(declared, r.Pattern)
		if r.Summary == "" || r.Tag == "" || !slices.ContainsFunc(r.Responses, func(a apiResponse) bool { return a.Status >= 200 && a.Status < 400 }) {
			t.Errorf("%s needs a summary, a tag and its successful answer", r.Pattern)
		}
	}
	for _, p := range registered {
		if !slices.Contains(declared, p) {
			t.Errorf("%s is registered but not declared in apiRoutes (openapi.go)", p)
		}
	}
	for _, p := range declared {
		if !slices.Contains(registered, p) {
			t.Errorf("%s is declared in apiRoutes (openapi.go) but not registered", p)
		}
	}
}

// The served document is the generated one.
func TestOpenAPIServed(t *testing.T) {
	s := New(Deps{License: devLicence(t)})
	rec := serve(s.Handler(), mustRequest(t, "GET", OpenAPIPath))
	doc, _ := OpenAPI()
	if rec.Code != 200 || rec.Body.String() != string(doc) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %q, want the document", OpenAPIPath, rec.Code, rec.Header().Get("Content-Type"))
	}
}

// Routes an application adds through Route are in the served document
// with what their guard asks; the document stays valid.
func TestOpenAPIServedListsApplicationRoutes(t *testing.T) {
	s := New(Deps{License: devLicence(t)})
	s.Route("GET /api/v1/hello/{name}", http.NotFoundHandler(), Guard{Role: auth.Maintainer, Feature: "ai_analysis"})
	s.Route("POST /api/v1/hello", http.NotFoundHandler(), Guard{SignedIn: true})
	s.Route("/api/v1/any-method", http.NotFoundHandler(), Guard{})
	rec := serve(s.Handler(), mustRequest(t, "GET", OpenAPIPath))
	if _, err := contract.New(context.Background(), rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Role       string         `json:"x-rookery-role"`
			Feature    string         `json:"x-rookery-licence-feature"`
			Parameters []any          `json:"parameters"`
			Responses  map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	get := doc.Paths["/api/v1/hello/{name}"]["get"]
	if get.Role != "maintainer" || get.Feature != "ai_analysis" || len(get.Parameters) != 1 || get.Responses["default"] == nil {
		t.Errorf("GET /api/v1/hello/{name}: %+v", get)
	}
	if post := doc.Paths["/api/v1/hello"]["post"]; post.Role != "viewer" {
		t.Errorf("POST /api/v1/hello (signed in): %+v", post)
	}
	if _, ok := doc.Paths["/api/v1/any-method"]; ok {
		t.Error("a pattern without a method is described")
	}
	if _, ok := doc.Paths["/api/v1/config"]; !ok {
		t.Error("rookery's own routes are missing")
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
