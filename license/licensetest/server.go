// Package licensetest provides a fake PenguinTech licence server and a fake
// clock for testing code that uses package license, in the manner of
// net/http/httptest.
//
// The fake follows the licence server's real contract: POST /api/v2/validate,
// /api/v2/features and /api/v2/keepalive with a Bearer licence key and a JSON
// body; the validation object echoes the licence key, carries features as
// objects and limits with -1 for unlimited, and adds "valid" and "message"
// only when asked to, as only some server versions do. Switches make it fail
// the ways the real one can: rejections, 5xx, slowness, hang-ups and a closed
// port. It records every request so tests can assert on what was sent.
package licensetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Product is the product name the preset licences are issued for.
const Product = "rookery"

// Keys that look like licence keys, for tests.
const (
	KeyProfessional = "PENG-PR0F-0000-0000-0000-0001"
	KeyEnterprise   = "PENG-ENTR-0000-0000-0000-0002"
	KeyCommunity    = "PENG-C0MM-0000-0000-0000-0003"
	KeyExpired      = "PENG-EXPD-0000-0000-0000-0004"
	KeyUnknown      = "PENG-NKNW-0000-0000-0000-0005"
)

// Feature is one feature of a fake licence. A nil Units is left out of the
// answer, as real servers do for features without units.
type Feature struct {
	Name        string
	Entitled    bool
	Units       *int
	Description string
	Metadata    map[string]any
}

// Licence is what the fake server knows about one key.
type Licence struct {
	Key       string
	Customer  string
	Product   string
	Tier      string // sent as is, so "pro" or "free" can be tested
	Features  []Feature
	Limits    map[string]int64
	IssuedAt  time.Time // zero: left out
	ExpiresAt time.Time // zero: left out
	ServerID  string
	// Valid, when not nil, adds "valid" to the answer (some server
	// versions do). Message adds "message".
	Valid   *bool
	Message string
	// Extra fields merged into the validation object, for tolerance tests.
	Extra map[string]any
}

// Bool returns a pointer to b, for Licence.Valid.
func Bool(b bool) *bool { return &b }

// Int returns a pointer to n, for Feature.Units.
func Int(n int) *int { return &n }

// catalogue is the feature list of the standards, with the tier of each.
var catalogue = []struct {
	name string
	tier int // 0 community, 1 professional, 2 enterprise
	desc string
}{
	{"basic_auth", 0, "Email and password authentication"},
	{"sso_integration", 1, "SSO and OAuth2 sign-in"},
	{"multiple_teams", 1, "More than one team"},
	{"api_keys", 1, "API keys"},
	{"audit_logs", 1, "Audit logging"},
	{"ai_analysis", 1, "AI analysis"},
	{"ai_generation", 1, "AI generation"},
	{"custom_saml", 2, "Custom SAML"},
	{"advanced_analytics", 2, "Advanced analytics"},
	{"priority_support", 2, "Priority support"},
	{"ai_training", 2, "AI training"},
	{"ai_custom_models", 2, "AI custom models"},
}

var tierNames = [...]string{"community", "professional", "enterprise"}

func preset(key, customer string, tier int) Licence {
	now := time.Now().UTC().Truncate(time.Second)
	l := Licence{
		Key:       key,
		Customer:  customer,
		Product:   Product,
		Tier:      tierNames[tier],
		IssuedAt:  now.AddDate(0, -1, 0),
		ExpiresAt: now.AddDate(1, 0, 0),
		ServerID:  "srv_" + strings.ToLower(strings.ReplaceAll(key[5:], "-", ""))[:16],
	}
	for _, f := range catalogue {
		feat := Feature{Name: f.name, Entitled: f.tier <= tier, Description: f.desc, Metadata: map[string]any{"tier": tierNames[f.tier]}}
		if f.name == "api_keys" {
			feat.Units = Int(0)
		}
		l.Features = append(l.Features, feat)
	}
	switch tier {
	case 0:
		l.Limits = map[string]int64{"max_servers": 1, "max_users": 5, "max_teams": 1, "data_retention_days": 30}
	case 1:
		l.Limits = map[string]int64{"max_servers": -1, "max_users": 25, "max_teams": -1, "data_retention_days": 365}
	default:
		l.Limits = map[string]int64{"max_servers": -1, "max_users": -1, "max_teams": -1, "data_retention_days": -1}
	}
	return l
}

// Professional returns a valid Professional licence for key, expiring in a
// year of real time.
func Professional(key string) Licence { return preset(key, "Acme Corp", 1) }

// Enterprise returns a valid Enterprise licence for key.
func Enterprise(key string) Licence { return preset(key, "Globex", 2) }

// Community returns a valid Community licence for key; the server sends
// the tier as "free", as some do.
func Community(key string) Licence {
	l := preset(key, "Initech", 0)
	l.Tier = "free"
	return l
}

// Expired returns a Professional licence for key whose expires_at passed a
// day ago (real time). The server still answers 200, as the contract has no
// status for expiry; the client must notice.
func Expired(key string) Licence {
	l := Professional(key)
	l.IssuedAt = l.IssuedAt.AddDate(-1, 0, 0)
	l.ExpiresAt = time.Now().UTC().Truncate(time.Second).Add(-24 * time.Hour)
	return l
}

// Qualified returns l with every feature name qualified with the product
// ("rookery.audit_logs"), as some server versions name them.
func (l Licence) Qualified() Licence {
	l.Features = slices.Clone(l.Features)
	for i := range l.Features {
		if !strings.Contains(l.Features[i].Name, ".") {
			l.Features[i].Name = l.Product + "." + l.Features[i].Name
		}
	}
	return l
}

// Request is one request the fake server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Raw    []byte
	Body   map[string]any // nil when the body was not a JSON object
	Time   time.Time      // real time of arrival
}

// BearerKey returns the key of the Authorization header, or "".
func (r Request) BearerKey() string {
	k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return k
}

// Server is the fake licence server.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	licences map[string]Licence
	failAll  int            // status for every path, 0 for none
	failPath map[string]int // status per path
	hangUp   bool
	delay    time.Duration
	requests []Request
	changed  chan struct{} // closed and replaced when a request is recorded
}

// NewServer starts a fake licence server on a loopback address over plain
// http (which the client allows for loopback) knowing the given licences.
func NewServer(licences ...Licence) *Server {
	s := newServer(licences)
	s.Server = httptest.NewServer(s)
	return s
}

// NewTLSServer is NewServer over https; use its Client() to trust it.
func NewTLSServer(licences ...Licence) *Server {
	s := newServer(licences)
	s.Server = httptest.NewTLSServer(s)
	return s
}

func newServer(licences []Licence) *Server {
	s := &Server{licences: make(map[string]Licence), failPath: make(map[string]int), changed: make(chan struct{})}
	for _, l := range licences {
		s.licences[l.Key] = l
	}
	return s
}

// SetLicence adds or replaces the licence of l.Key.
func (s *Server) SetLicence(l Licence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.licences[l.Key] = l
}

// RemoveLicence forgets a key; it is then answered 401.
func (s *Server) RemoveLicence(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.licences, key)
}

// Fail makes the server answer status to every request on the given paths
// (all paths when none is given) with a JSON error body; status 0 clears it.
// Use 401 or 403 for rejections, 500 and friends for an outage.
func (s *Server) Fail(status int, paths ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(paths) == 0 {
		s.failAll = status
		if status == 0 {
			clear(s.failPath)
		}
		return
	}
	for _, p := range paths {
		if status == 0 {
			delete(s.failPath, p)
		} else {
			s.failPath[p] = status
		}
	}
}

// HangUp makes the server close connections without answering.
func (s *Server) HangUp(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangUp = on
}

// SetDelay makes the server wait d before answering (or until the client
// gives up), to test timeouts.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestsTo returns the requests received on path.
func (s *Server) RequestsTo(path string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// WaitFor waits until at least n requests were received on path and returns
// them, or returns ctx's error.
func (s *Server) WaitFor(ctx context.Context, path string, n int) ([]Request, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if got := s.RequestsTo(path); len(got) >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// ServeHTTP implements the licence server.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Raw: raw, Time: time.Now()}
	var body map[string]any
	if json.Unmarshal(raw, &body) == nil {
		rec.Body = body
	}

	s.mu.Lock()
	s.requests = append(s.requests, rec)
	close(s.changed)
	s.changed = make(chan struct{})
	delay, hangUp := s.delay, s.hangUp
	status := s.failAll
	if st, ok := s.failPath[r.URL.Path]; ok {
		status = st
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if hangUp {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if status != 0 {
		writeJSON(w, status, map[string]any{"error": http.StatusText(status)})
		return
	}

	switch r.URL.Path {
	case "/api/v2/validate", "/api/v2/features", "/api/v2/keepalive":
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "Not found"})
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "Method not allowed"})
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": "Content-Type must be application/json"})
		return
	}
	key := rec.BearerKey()
	if key == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Missing or invalid Authorization header"})
		return
	}
	if body == nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Request body must be a JSON object"})
		return
	}
	s.mu.Lock()
	lic, ok := s.licences[key]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Invalid license key"})
		return
	}
	if product, _ := body["product"].(string); product != lic.Product {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "License is not valid for this product"})
		return
	}

	switch r.URL.Path {
	case "/api/v2/validate":
		writeJSON(w, http.StatusOK, validation(lic))
	case "/api/v2/features":
		want, _ := body["feature"].(string)
		features := []map[string]any{}
		for _, f := range lic.Features {
			if want == "" || f.Name == want || f.Name == lic.Product+"."+want || lic.Product+"."+f.Name == want {
				features = append(features, featureJSON(f))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"features": features})
	case "/api/v2/keepalive":
		if id, _ := body["server_id"].(string); id != lic.ServerID {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Unknown server_id"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	}
}

// validation builds the validation object as the real server does,
// including its echo of the licence key.
func validation(l Licence) map[string]any {
	features := make([]map[string]any, 0, len(l.Features))
	for _, f := range l.Features {
		features = append(features, featureJSON(f))
	}
	limits := map[string]any{}
	for k, v := range l.Limits {
		limits[k] = v
	}
	v := map[string]any{
		"customer":        l.Customer,
		"product":         l.Product,
		"license_version": "2.0",
		"license_key":     l.Key,
		"tier":            l.Tier,
		"features":        features,
		"limits":          limits,
		"metadata": map[string]any{
			"server_id":     l.ServerID,
			"support_tier":  "email",
			"custom_fields": map[string]any{},
		},
	}
	if !l.ExpiresAt.IsZero() {
		v["expires_at"] = l.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if !l.IssuedAt.IsZero() {
		v["issued_at"] = l.IssuedAt.UTC().Format(time.RFC3339)
	}
	if l.Valid != nil {
		v["valid"] = *l.Valid
	}
	if l.Message != "" {
		v["message"] = l.Message
	}
	maps.Copy(v, l.Extra)
	return v
}

func featureJSON(f Feature) map[string]any {
	out := map[string]any{"name": f.Name, "entitled": f.Entitled, "description": f.Description}
	if f.Units != nil {
		out["units"] = *f.Units
	}
	md := map[string]any{}
	maps.Copy(md, f.Metadata)
	out["metadata"] = md
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
