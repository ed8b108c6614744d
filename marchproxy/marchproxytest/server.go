// Package marchproxytest provides an in-process fake of the real MarchProxy
// API server (v1), for tests of code that talks to it. It follows the real
// contract, quirks and FastAPI error shapes included: user login with
// optional 2FA, 30-minute access tokens that the login answer claims last an
// hour, services CRUD by PATCH only, soft delete by default, names unique
// even among soft-deleted services, no bulk import and no mappings API, and
// the proxy-facing cluster config route keyed by a "cluster-api-key" header.
//
// Switches make it misbehave: Down, FailAfter, ExpireTokens,
// ExpireAccessTokens, SetBulkImport (emulate a server that has the
// standards' bulk import) and SetServiceLimit.
package marchproxytest

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the fake.
const (
	AccessTokenLifetime  = 30 * time.Minute
	RefreshTokenLifetime = 7 * 24 * time.Hour
	// ClaimedExpiresIn is what the real server says in expires_in.
	ClaimedExpiresIn = 3600
)

// Clock is a settable clock for tests, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Service is a service as the fake stores it.
type Service struct {
	ID                  int
	Name                string
	IPFQDN              string
	Port                int
	Protocol            string
	Collection          *string
	ClusterID           int
	AuthType            string
	TLSEnabled          bool
	TLSVerify           bool
	HealthCheckEnabled  bool
	HealthCheckPath     *string
	HealthCheckInterval int
	JWTExpiry           int
	JWTAlgorithm        string
	TokenBase64         *string
	JWTSecret           *string
	IsActive            bool
	CreatedBy           int
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	// Status is the answer's status code; 0 when the connection was
	// dropped (Down).
	Status int
}

type user struct {
	id       int
	username string
	email    string
	password string
	totp     string
	admin    bool
}

type token struct {
	userID  int
	refresh bool
	expires time.Time
}

type cluster struct {
	id   int
	name string
	key  string
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock the fake uses for token expiry and timestamps.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithUser adds an admin user. Passwords shorter than 8 characters cannot
// log in (the server answers 422), as on the real server.
func WithUser(username, password string) Option {
	return func(s *Server) { s.addUser(username, password, "") }
}

// WithTOTPUser adds an admin user with 2FA; code is the one valid TOTP code.
func WithTOTPUser(username, password, code string) Option {
	return func(s *Server) { s.addUser(username, password, code) }
}

// WithCluster adds a cluster and its API key.
func WithCluster(id int, apiKey string) Option {
	return func(s *Server) { s.clusters[id] = &cluster{id: id, name: "cluster-" + strconv.Itoa(id), key: apiKey} }
}

// WithBulkImport makes the fake accept the standards' bulk import.
func WithBulkImport() Option { return func(s *Server) { s.bulk = true } }

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base address, e.g. http://127.0.0.1:41234.
	URL string
	ts  *httptest.Server
	now func() time.Time

	mu           sync.Mutex
	users        []*user
	clusters     map[int]*cluster
	services     map[int]*Service
	nextID       int
	tokens       map[string]*token
	requests     []Request
	down         bool
	failAfter    int
	bulk         bool
	serviceLimit int
	configSerial int
}

// NewServer starts a fake. Without options it has no users and no clusters.
func NewServer(opts ...Option) *Server {
	s := &Server{
		now:       time.Now,
		clusters:  make(map[int]*cluster),
		services:  make(map[int]*Service),
		nextID:    1,
		tokens:    make(map[string]*token),
		failAfter: -1,
	}
	for _, o := range opts {
		o(s)
	}
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// Close shuts the fake down.
func (s *Server) Close() { s.ts.Close() }

// Client returns an HTTP client for the fake.
func (s *Server) Client() *http.Client { return s.ts.Client() }

func (s *Server) addUser(username, password, totp string) {
	id := len(s.users) + 1
	s.users = append(s.users, &user{id: id, username: username, email: username + "@example.com", password: password, totp: totp, admin: true})
}

// SetDown makes the fake drop every connection without answering.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// FailAfter lets n more requests through, then answers every request with
// FastAPI's plain-text 500. A negative n turns the failure off.
func (s *Server) FailAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAfter = n
}

// ExpireTokens makes every issued access and refresh token invalid now.
func (s *Server) ExpireTokens() { s.expire(true) }

// ExpireAccessTokens makes every access token invalid now; refresh tokens
// keep working.
func (s *Server) ExpireAccessTokens() { s.expire(false) }

func (s *Server) expire(refresh bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if !t.refresh || refresh {
			t.expires = time.Time{}
		}
	}
}

// SetBulkImport switches the standards' POST /api/v1/services/import on or
// off (off, the real server's 405, is the default).
func (s *Server) SetBulkImport(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bulk = on
}

// SetServiceLimit makes creates beyond n services answer 402; 0 means no
// limit.
func (s *Server) SetServiceLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serviceLimit = n
}

// AddService stores a service directly (to seed a scenario) and returns it
// with its id. Zero timestamps take the clock's time.
func (s *Server) AddService(svc Service) Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc.ID = s.nextID
	s.nextID++
	now := s.now()
	if svc.CreatedAt.IsZero() {
		svc.CreatedAt = now
	}
	if svc.UpdatedAt.IsZero() {
		svc.UpdatedAt = now
	}
	if svc.JWTAlgorithm == "" {
		svc.JWTAlgorithm = "HS256"
	}
	if svc.JWTExpiry == 0 {
		svc.JWTExpiry = 3600
	}
	stored := svc
	s.services[svc.ID] = &stored
	return svc
}

// Services returns a copy of every stored service, by id.
func (s *Server) Services() []Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Service, 0, len(s.services))
	for _, svc := range s.services {
		out = append(out, *svc)
	}
	slices.SortFunc(out, func(a, b Service) int { return a.ID - b.ID })
	return out
}

// ServiceByName returns the stored service with the name.
func (s *Server) ServiceByName(name string) (Service, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svc := range s.services {
		if svc.Name == name {
			return *svc, true
		}
	}
	return Service{}, false
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// ServeHTTP handles one request. Requests are handled one at a time, which
// keeps the fake simple and its state consistent.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	if s.down {
		s.requests = append(s.requests, req)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	rec := &recorder{ResponseWriter: w}
	switch {
	case s.failAfter == 0:
		// Starlette's ServerErrorMiddleware answers in plain text.
		rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rec.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(rec, "Internal Server Error")
	default:
		if s.failAfter > 0 {
			s.failAfter--
		}
		s.route(rec, r, body)
	}
	req.Status = rec.status
	s.requests = append(s.requests, req)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"detail": msg})
}

func unprocessable(w http.ResponseWriter, errs []fieldError) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": errs})
}

func methodNotAllowed(w http.ResponseWriter, allow ...string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	detail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	switch {
	case p == "/healthz":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, http.MethodGet)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "version": "1.0.0", "service": "marchproxy-api-server"})
	case p == "/api/v1/auth/login":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		s.login(w, body)
	case p == "/api/v1/auth/refresh":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		s.refresh(w, body)
	case p == "/api/v1/services":
		switch r.Method {
		case http.MethodGet:
			if u := s.authenticate(w, r); u != nil {
				s.listServices(w, r)
			}
		case http.MethodPost:
			if u := s.authenticate(w, r); u != nil {
				s.createService(w, u, body)
			}
		default:
			methodNotAllowed(w, http.MethodGet, http.MethodPost)
		}
	case strings.HasPrefix(p, "/api/v1/services/"):
		s.serviceRoutes(w, r, strings.Split(strings.TrimPrefix(p, "/api/v1/services/"), "/"), body)
	case strings.HasPrefix(p, "/api/v1/config/"):
		if r.Method != http.MethodGet {
			methodNotAllowed(w, http.MethodGet)
			return
		}
		s.configRoutes(w, r, strings.Split(strings.TrimPrefix(p, "/api/v1/config/"), "/"))
	default:
		detail(w, http.StatusNotFound, "Not Found")
	}
}

func (s *Server) serviceRoutes(w http.ResponseWriter, r *http.Request, parts []string, body []byte) {
	switch {
	case len(parts) == 1 && parts[0] == "import" && r.Method == http.MethodPost && s.bulk:
		if u := s.authenticate(w, r); u != nil {
			s.bulkImport(w, u, body)
		}
	case len(parts) == 1 && parts[0] != "":
		// The real server routes /import to /{service_id} too, which has
		// no POST: 405.
		switch r.Method {
		case http.MethodGet, http.MethodPatch, http.MethodDelete:
		default:
			methodNotAllowed(w, http.MethodGet, http.MethodPatch, http.MethodDelete)
			return
		}
		u := s.authenticate(w, r)
		if u == nil {
			return
		}
		id, ok := pathID(w, "service_id", parts[0])
		if !ok {
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.getService(w, id)
		case http.MethodPatch:
			s.patchService(w, id, body)
		case http.MethodDelete:
			s.deleteService(w, r, id)
		}
	case len(parts) == 2 && parts[1] == "rotate-token":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		if u := s.authenticate(w, r); u == nil {
			return
		}
		if id, ok := pathID(w, "service_id", parts[0]); ok {
			s.rotateToken(w, id, body)
		}
	default:
		detail(w, http.StatusNotFound, "Not Found")
	}
}

func pathID(w http.ResponseWriter, name, v string) (int, bool) {
	id, err := strconv.Atoi(v)
	if err != nil {
		unprocessable(w, []fieldError{{Type: "int_parsing", Loc: []any{"path", name}, Msg: "Input should be a valid integer, unable to parse string as an integer", Input: v}})
		return 0, false
	}
	return id, true
}

// authenticate applies FastAPI's HTTPBearer (403 without a header) and the
// server's token check (401).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *user {
	h := r.Header.Get("Authorization")
	if h == "" {
		detail(w, http.StatusForbidden, "Not authenticated")
		return nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "bearer") || cred == "" {
		detail(w, http.StatusForbidden, "Invalid authentication credentials")
		return nil
	}
	t, ok := s.tokens[cred]
	if !ok || t.refresh || !s.now().Before(t.expires) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		detail(w, http.StatusUnauthorized, "Could not validate credentials")
		return nil
	}
	for _, u := range s.users {
		if u.id == t.userID {
			return u
		}
	}
	w.Header().Set("WWW-Authenticate", "Bearer")
	detail(w, http.StatusUnauthorized, "Could not validate credentials")
	return nil
}

func (s *Server) issue(u *user, refresh bool) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	life := AccessTokenLifetime
	if refresh {
		life = RefreshTokenLifetime
	}
	s.tokens[tok] = &token{userID: u.id, refresh: refresh, expires: s.now().Add(life)}
	return tok
}

func (s *Server) login(w http.ResponseWriter, body []byte) {
	f, errs := newForm([]any{"body"}, body)
	if errs != nil {
		unprocessable(w, errs)
		return
	}
	username, _ := f.str("username", true, false, 3, 128)
	password, _ := f.str("password", true, false, 8, 0)
	code, _ := f.str("totp_code", false, true, 6, 6)
	if len(f.errs) > 0 {
		unprocessable(w, f.errs)
		return
	}
	var u *user
	for _, c := range s.users {
		if c.username == *username || c.email == *username {
			u = c
		}
	}
	if u == nil || u.password != *password {
		w.Header().Set("WWW-Authenticate", "Bearer")
		detail(w, http.StatusUnauthorized, "Incorrect username or password")
		return
	}
	resp := map[string]any{
		"user_id": u.id, "username": u.username, "email": u.email, "is_admin": u.admin,
		"requires_2fa": false, "access_token": nil, "refresh_token": nil,
		"token_type": "bearer", "expires_in": nil,
	}
	if u.totp != "" {
		if code == nil || *code == "" {
			resp["requires_2fa"] = true
			writeJSON(w, http.StatusOK, resp)
			return
		}
		if *code != u.totp {
			detail(w, http.StatusUnauthorized, "Invalid 2FA code")
			return
		}
	}
	resp["access_token"] = s.issue(u, false)
	resp["refresh_token"] = s.issue(u, true)
	resp["expires_in"] = ClaimedExpiresIn
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) refresh(w http.ResponseWriter, body []byte) {
	f, errs := newForm([]any{"body"}, body)
	if errs != nil {
		unprocessable(w, errs)
		return
	}
	rt, _ := f.str("refresh_token", true, false, 0, 0)
	if len(f.errs) > 0 {
		unprocessable(w, f.errs)
		return
	}
	t, ok := s.tokens[*rt]
	if !ok || !s.now().Before(t.expires) {
		detail(w, http.StatusUnauthorized, "Invalid or expired refresh token")
		return
	}
	if !t.refresh {
		detail(w, http.StatusUnauthorized, "Invalid token type")
		return
	}
	var u *user
	for _, c := range s.users {
		if c.id == t.userID {
			u = c
		}
	}
	if u == nil {
		detail(w, http.StatusUnauthorized, "User not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.issue(u, false), "refresh_token": s.issue(u, true),
		"token_type": "bearer", "expires_in": ClaimedExpiresIn,
	})
}

func (s *Server) wire(svc *Service) map[string]any {
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }
	return map[string]any{
		"id": svc.ID, "name": svc.Name, "ip_fqdn": svc.IPFQDN, "port": svc.Port,
		"protocol": svc.Protocol, "collection": svc.Collection, "cluster_id": svc.ClusterID,
		"auth_type": svc.AuthType, "tls_enabled": svc.TLSEnabled, "tls_verify": svc.TLSVerify,
		"health_check_enabled": svc.HealthCheckEnabled, "health_check_path": svc.HealthCheckPath,
		"health_check_interval": svc.HealthCheckInterval,
		"token_base64":          svc.TokenBase64, "jwt_secret": svc.JWTSecret,
		"jwt_expiry": svc.JWTExpiry, "jwt_algorithm": svc.JWTAlgorithm,
		"is_active": svc.IsActive, "created_by": svc.CreatedBy,
		"created_at": ts(svc.CreatedAt), "updated_at": ts(svc.UpdatedAt),
	}
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var errs []fieldError
	qint := func(name string, def int, ge, le *int) int {
		v := q.Get(name)
		if v == "" {
			return def
		}
		f := &form{loc: []any{"query"}}
		n, ok := f.parseInt(name, v)
		if ok && ge != nil && n < *ge {
			f.add(name, "greater_than_equal", fmt.Sprintf("Input should be greater than or equal to %d", *ge), v, map[string]any{"ge": *ge})
			ok = false
		}
		if ok && le != nil && n > *le {
			f.add(name, "less_than_equal", fmt.Sprintf("Input should be less than or equal to %d", *le), v, map[string]any{"le": *le})
			ok = false
		}
		errs = append(errs, f.errs...)
		return n
	}
	clusterID := qint("cluster_id", 0, nil, nil)
	skip := qint("skip", 0, intp(0), nil)
	limit := qint("limit", 100, intp(1), intp(1000))
	activeOnly := true
	if v := q.Get("active_only"); v != "" {
		b, ok := parseBool(v)
		if !ok {
			errs = append(errs, fieldError{Type: "bool_parsing", Loc: []any{"query", "active_only"}, Msg: "Input should be a valid boolean, unable to interpret input", Input: v})
		}
		activeOnly = b
	}
	if len(errs) > 0 {
		unprocessable(w, errs)
		return
	}
	var match []*Service
	for _, svc := range s.services {
		if clusterID != 0 && svc.ClusterID != clusterID {
			continue
		}
		if activeOnly && !svc.IsActive {
			continue
		}
		match = append(match, svc)
	}
	// The real server orders by created_at descending.
	slices.SortFunc(match, func(a, b *Service) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return b.ID - a.ID
	})
	page := []map[string]any{}
	for i := skip; i < len(match) && i < skip+limit; i++ {
		page = append(page, s.wire(match[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": len(match), "services": page})
}

// serviceFields reads ServiceCreate (create) or ServiceUpdate (!create)
// fields from f into svc.
func (s *Server) serviceFields(f *form, svc *Service, create bool) {
	if v, ok := f.str("name", create, false, 1, 100); ok {
		svc.Name = *v
	}
	if v, ok := f.str("ip_fqdn", create, false, 1, 255); ok {
		svc.IPFQDN = *v
	}
	if v, ok := f.integer("port", create, !create, intp(1), intp(65535)); ok && v != nil {
		svc.Port = *v
	}
	if v, ok := f.str("protocol", false, !create, 0, 0); ok && v != nil {
		if f.oneOf("protocol", v, []string{"tcp", "udp", "http", "https"}, "protocol must be one of: tcp, udp, http, https") {
			svc.Protocol = *v
		}
	}
	if v, ok := f.str("collection", false, true, 0, 100); ok {
		svc.Collection = v
	}
	if create {
		if v, ok := f.integer("cluster_id", true, false, nil, nil); ok {
			svc.ClusterID = *v
		}
	}
	if v, ok := f.str("auth_type", false, !create, 0, 0); ok && v != nil {
		if f.oneOf("auth_type", v, []string{"none", "base64", "jwt"}, "auth_type must be one of: none, base64, jwt") {
			svc.AuthType = *v
		}
	}
	if v, ok := f.boolean("tls_enabled"); ok {
		svc.TLSEnabled = *v
	}
	if v, ok := f.boolean("tls_verify"); ok {
		svc.TLSVerify = *v
	}
	if v, ok := f.boolean("health_check_enabled"); ok {
		svc.HealthCheckEnabled = *v
	}
	if v, ok := f.str("health_check_path", false, true, 0, 0); ok {
		svc.HealthCheckPath = v
	}
	if v, ok := f.integer("health_check_interval", false, !create, intp(5), nil); ok && v != nil {
		svc.HealthCheckInterval = *v
	}
	if create {
		if v, ok := f.integer("jwt_expiry", false, true, intp(300), nil); ok && v != nil {
			svc.JWTExpiry = *v
		}
		if v, ok := f.str("jwt_algorithm", false, true, 0, 0); ok && v != nil {
			svc.JWTAlgorithm = *v
		}
	} else if v, ok := f.boolean("is_active"); ok {
		svc.IsActive = *v
	}
}

func newService() Service {
	return Service{Protocol: "tcp", AuthType: "none", TLSVerify: true, HealthCheckInterval: 30, JWTExpiry: 3600, JWTAlgorithm: "HS256", IsActive: true}
}

func randomSecret() *string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)
	return &s
}

func (s *Server) nameTaken(name string, except int) bool {
	for _, o := range s.services {
		if o.Name == name && o.ID != except {
			return true
		}
	}
	return false
}

// insert runs the server-side checks of a create; it answers and returns
// false when one fails.
func (s *Server) insert(w http.ResponseWriter, u *user, svc Service) (*Service, bool) {
	if _, ok := s.clusters[svc.ClusterID]; !ok {
		detail(w, http.StatusNotFound, "Cluster not found")
		return nil, false
	}
	if s.nameTaken(svc.Name, 0) {
		detail(w, http.StatusBadRequest, fmt.Sprintf("Service with name '%s' already exists", svc.Name))
		return nil, false
	}
	if s.serviceLimit > 0 && len(s.services) >= s.serviceLimit {
		detail(w, http.StatusPaymentRequired, fmt.Sprintf("Service limit reached (%d) for your license tier", s.serviceLimit))
		return nil, false
	}
	switch svc.AuthType {
	case "base64":
		svc.TokenBase64 = randomSecret()
	case "jwt":
		svc.JWTSecret = randomSecret()
	}
	svc.ID = s.nextID
	s.nextID++
	svc.CreatedBy = u.id
	svc.CreatedAt, svc.UpdatedAt = s.now(), s.now()
	stored := svc
	s.services[svc.ID] = &stored
	return &stored, true
}

func (s *Server) createService(w http.ResponseWriter, u *user, body []byte) {
	f, errs := newForm([]any{"body"}, body)
	if errs != nil {
		unprocessable(w, errs)
		return
	}
	svc := newService()
	s.serviceFields(f, &svc, true)
	if len(f.errs) > 0 {
		unprocessable(w, f.errs)
		return
	}
	if stored, ok := s.insert(w, u, svc); ok {
		writeJSON(w, http.StatusCreated, s.wire(stored))
	}
}

func (s *Server) getService(w http.ResponseWriter, id int) {
	svc, ok := s.services[id]
	if !ok {
		detail(w, http.StatusNotFound, "Service not found")
		return
	}
	writeJSON(w, http.StatusOK, s.wire(svc))
}

func (s *Server) patchService(w http.ResponseWriter, id int, body []byte) {
	f, errs := newForm([]any{"body"}, body)
	if errs != nil {
		unprocessable(w, errs)
		return
	}
	cur, ok := s.services[id]
	if !ok {
		detail(w, http.StatusNotFound, "Service not found")
		return
	}
	next := *cur
	s.serviceFields(f, &next, false)
	if len(f.errs) > 0 {
		unprocessable(w, f.errs)
		return
	}
	if next.Name != cur.Name && s.nameTaken(next.Name, id) {
		detail(w, http.StatusBadRequest, fmt.Sprintf("Service with name '%s' already exists", next.Name))
		return
	}
	next.UpdatedAt = s.now()
	*cur = next
	writeJSON(w, http.StatusOK, s.wire(cur))
}

func (s *Server) deleteService(w http.ResponseWriter, r *http.Request, id int) {
	permanent := false
	if v := r.URL.Query().Get("permanent"); v != "" {
		b, ok := parseBool(v)
		if !ok {
			unprocessable(w, []fieldError{{Type: "bool_parsing", Loc: []any{"query", "permanent"}, Msg: "Input should be a valid boolean, unable to interpret input", Input: v}})
			return
		}
		permanent = b
	}
	svc, ok := s.services[id]
	if !ok {
		detail(w, http.StatusNotFound, "Service not found")
		return
	}
	if permanent {
		delete(s.services, id)
	} else {
		svc.IsActive = false
		svc.UpdatedAt = s.now()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) rotateToken(w http.ResponseWriter, id int, body []byte) {
	f, errs := newForm([]any{"body"}, body)
	if errs != nil {
		unprocessable(w, errs)
		return
	}
	at, _ := f.str("auth_type", true, false, 0, 0)
	f.oneOf("auth_type", at, []string{"base64", "jwt"}, "auth_type must be either base64 or jwt")
	if len(f.errs) > 0 {
		unprocessable(w, f.errs)
		return
	}
	svc, ok := s.services[id]
	if !ok {
		detail(w, http.StatusNotFound, "Service not found")
		return
	}
	resp := map[string]any{"service_id": id, "auth_type": *at, "new_token": nil, "new_jwt_secret": nil, "message": "Authentication token rotated successfully"}
	if *at == "base64" {
		svc.TokenBase64 = randomSecret()
		resp["new_token"] = *svc.TokenBase64
	} else {
		svc.JWTSecret = randomSecret()
		resp["new_jwt_secret"] = *svc.JWTSecret
	}
	writeJSON(w, http.StatusOK, resp)
}

// bulkImport is the standards' endpoint, present only when switched on:
// every service is created, or updated (and reactivated) by name.
func (s *Server) bulkImport(w http.ResponseWriter, u *user, body []byte) {
	var env struct {
		Services []json.RawMessage `json:"services"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Services == nil {
		unprocessable(w, []fieldError{{Type: "missing", Loc: []any{"body", "services"}, Msg: "Field required", Input: nil}})
		return
	}
	var all []fieldError
	parsed := make([]Service, 0, len(env.Services))
	for i, raw := range env.Services {
		f, errs := newForm([]any{"body", "services", i}, raw)
		if errs != nil {
			all = append(all, errs...)
			continue
		}
		svc := newService()
		s.serviceFields(f, &svc, true)
		all = append(all, f.errs...)
		parsed = append(parsed, svc)
	}
	if len(all) > 0 {
		unprocessable(w, all)
		return
	}
	created, updated := 0, 0
	for _, svc := range parsed {
		var existing *Service
		for _, o := range s.services {
			if o.Name == svc.Name {
				existing = o
			}
		}
		if existing == nil {
			if _, ok := s.insert(w, u, svc); !ok {
				return
			}
			created++
			continue
		}
		svc.ID, svc.CreatedBy, svc.CreatedAt = existing.ID, existing.CreatedBy, existing.CreatedAt
		svc.TokenBase64, svc.JWTSecret = existing.TokenBase64, existing.JWTSecret
		svc.UpdatedAt = s.now()
		*existing = svc
		updated++
	}
	writeJSON(w, http.StatusOK, map[string]any{"imported": created + updated, "created": created, "updated": updated})
}

// configRoutes serves /api/v1/config/{id}, /version/{id} and /validate/{id}.
func (s *Server) configRoutes(w http.ResponseWriter, r *http.Request, parts []string) {
	kind := "config"
	if len(parts) == 2 && (parts[0] == "version" || parts[0] == "validate") {
		kind, parts = parts[0], parts[1:]
	}
	if len(parts) != 1 || parts[0] == "" {
		detail(w, http.StatusNotFound, "Not Found")
		return
	}
	var errs []fieldError
	id, err := strconv.Atoi(parts[0])
	if err != nil {
		errs = append(errs, fieldError{Type: "int_parsing", Loc: []any{"path", "cluster_id"}, Msg: "Input should be a valid integer, unable to parse string as an integer", Input: parts[0]})
	}
	key := r.Header.Get("cluster-api-key")
	if _, present := r.Header[http.CanonicalHeaderKey("cluster-api-key")]; !present {
		errs = append(errs, fieldError{Type: "missing", Loc: []any{"header", "cluster-api-key"}, Msg: "Field required", Input: nil})
	}
	if len(errs) > 0 {
		unprocessable(w, errs)
		return
	}
	var owner *cluster
	for _, c := range s.clusters {
		if c.key == key {
			owner = c
		}
	}
	if owner == nil {
		detail(w, http.StatusUnauthorized, "Invalid cluster API key")
		return
	}
	if owner.id != id {
		detail(w, http.StatusForbidden, "Cluster ID does not match API key")
		return
	}
	doc := s.clusterConfig(owner)
	switch kind {
	case "version":
		writeJSON(w, http.StatusOK, map[string]any{"cluster_id": id, "config_version": doc["config_version"], "generated_at": doc["generated_at"]})
	case "validate":
		writeJSON(w, http.StatusOK, map[string]any{"valid": true, "errors": []string{}, "warnings": []string{}})
	default:
		writeJSON(w, http.StatusOK, doc)
	}
}

func (s *Server) clusterConfig(c *cluster) map[string]any {
	var active []*Service
	for _, svc := range s.services {
		if svc.ClusterID == c.id && svc.IsActive {
			active = append(active, svc)
		}
	}
	slices.SortFunc(active, func(a, b *Service) int { return a.ID - b.ID })
	services := []map[string]any{}
	for _, svc := range active {
		auth := map[string]any{"type": svc.AuthType}
		switch svc.AuthType {
		case "base64":
			auth["token"] = svc.TokenBase64
		case "jwt":
			auth["jwt_secret"] = svc.JWTSecret
			auth["jwt_expiry"] = svc.JWTExpiry
			auth["jwt_algorithm"] = svc.JWTAlgorithm
		}
		var hc any
		if svc.HealthCheckEnabled {
			hc = map[string]any{"enabled": true, "path": svc.HealthCheckPath, "interval": svc.HealthCheckInterval}
		}
		services = append(services, map[string]any{
			"id": svc.ID, "name": svc.Name, "ip_fqdn": svc.IPFQDN, "port": svc.Port,
			"protocol": svc.Protocol, "collection": svc.Collection, "auth": auth,
			"tls":          map[string]any{"enabled": svc.TLSEnabled, "verify": svc.TLSVerify},
			"health_check": hc,
		})
	}
	// The real server hashes generated_at into the version, so it changes on
	// every request; the serial keeps that true under a stopped test clock.
	s.configSerial++
	generated := s.now().UTC().Format(time.RFC3339Nano)
	content, _ := json.Marshal(services)
	sum := md5.Sum(fmt.Appendf(content, "|%s|%d", generated, s.configSerial))
	return map[string]any{
		"cluster":        map[string]any{"id": c.id, "name": c.name, "api_key": c.key},
		"logging":        map[string]any{"level": "info", "syslog_endpoint": nil},
		"services":       services,
		"mappings":       []any{},
		"certificates":   []any{},
		"generated_at":   generated,
		"config_version": hex.EncodeToString(sum[:]),
	}
}
