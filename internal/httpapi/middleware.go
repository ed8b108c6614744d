package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/license"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
	keyInfo
)

// requestInfo is filled in while a request is handled, for the request log.
type requestInfo struct {
	user string
	// client is the client's address (see clientAddr), worked out once so
	// the throttle, the request log and the audit all name the same one.
	client netip.Addr
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// principal returns who is calling; ok is false for anonymous requests.
func principal(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(keyPrincipal).(auth.Principal)
	return p, ok
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validRequestID keeps a caller's X-Request-ID only when it is short and
// plain, so it cannot inject into logs.
func validRequestID(id string) bool {
	if id == "" || len(id) > 100 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers (SSE) flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// outer wraps every request: request id, security headers, panic
// recovery, the request log and the HTTP metrics.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		h := w.Header()
		h.Set("X-Request-ID", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		// SECURE_COOKIES says TLS is terminated in front of rookery, so the
		// browser reached us over HTTPS and should never try plain HTTP again.
		if r.TLS != nil || s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		info := &requestInfo{client: clientAddr(r, s.trusted)}
		ctx := context.WithValue(r.Context(), keyRequestID, id)
		if strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/api/v1/ai/") && r.URL.Path != configEventsPath {
			// A frozen database must not hold requests forever: past this
			// the driver gives up and the client gets a 503. AI calls have
			// their own timeout (waddleai_timeout); the config event stream
			// is meant to stay open and reads no database.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, apiDeadline)
			defer cancel()
		}
		ctx = context.WithValue(ctx, keyInfo, info)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panicked", "request_id", id, "path", r.URL.Path, "panic", slog.AnyValue(v))
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, "internal error; the server log has details", nil)
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			method := MethodLabel(r.Method)
			s.metrics.observe(method, route, status, elapsed, r.ContentLength)
			if s.onRequest != nil {
				s.onRequest(RequestRecord{ID: id, Method: method, Path: r.URL.Path, Route: route, Status: status,
					Duration: elapsed, User: info.user, ClientIP: clientIP(r), Bytes: sw.bytes, RequestSize: r.ContentLength})
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// RequestRecord describes one handled request, for logging and metrics
// beyond the built-in ones. Method is already bounded by MethodLabel and
// Route is a registered pattern or "unmatched", so both are safe as labels.
type RequestRecord struct {
	ID, Method, Path, Route string
	Status                  int
	Duration                time.Duration
	User, ClientIP          string
	Bytes, RequestSize      int64
}

// clientIP is the client's address as text, for logs, audit records and
// the throttle: the one outer worked out (trusting X-Forwarded-For only
// from TRUSTED_PROXIES), or the direct peer outside outer.
func clientIP(r *http.Request) string {
	if info, ok := r.Context().Value(keyInfo).(*requestInfo); ok && info.client.IsValid() {
		return info.client.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

const sessionCookie = "rookery_session"

// configEventsPath is the config event stream, which stays open.
const configEventsPath = "/api/v1/config/events"

// apiDeadline bounds every non-AI API request.
const apiDeadline = 15 * time.Second

// authenticate establishes the principal from a Bearer token or the
// session cookie. Unsafe requests that rely on the cookie must come from
// this site's pages (see fromThisSite), which stops cross-site request
// forgery; a Bearer token is never sent by a browser on its own, so
// requests carrying one are not checked.
func (s *Server) authenticate(r *http.Request) (*http.Request, error) {
	token, viaCookie := "", false
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return r, errorf(http.StatusUnauthorized, "the Authorization header must be: Bearer <token>")
		}
		token = strings.TrimSpace(rest)
	} else if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		token, viaCookie = c.Value, true
	}
	if token == "" {
		return r, errorf(http.StatusUnauthorized, "sign in first: send Authorization: Bearer <token> or the session cookie")
	}
	var p auth.Principal
	var err error
	if auth.IsAPIKey(token) {
		// API keys are the standards' professional "API keys" feature: a
		// licence without it stops them working.
		if !s.license.HasFeature(license.FeatureAPIKeys) {
			return r, &apiError{Status: http.StatusForbidden, Msg: "API keys are not included in the current licence",
				Extra: map[string]any{"feature": "api_keys"}}
		}
		p, err = s.auth.VerifyAPIKey(r.Context(), token)
	} else {
		p, err = s.auth.Verify(r.Context(), token)
	}
	if err != nil {
		return r, err
	}
	if viaCookie {
		if err := fromThisSite(r); err != nil {
			return r, err
		}
	}
	if info, ok := r.Context().Value(keyInfo).(*requestInfo); ok {
		info.user = p.Email
	}
	return r.WithContext(context.WithValue(r.Context(), keyPrincipal, p)), nil
}

// crossOrigin is Go's protection against cross-site requests: it lets
// safe methods through, then trusts the browser's Sec-Fetch-Site header,
// and for browsers without it compares Origin with Host.
var crossOrigin = http.NewCrossOriginProtection()

// errCrossSite is the answer to a cookie request from another site.
var errCrossSite = errorf(http.StatusForbidden, "cross-site request refused: requests signed in with the session cookie must come from this site's pages; other clients send Authorization: Bearer <token>")

// fromThisSite checks that a request signed in with the session cookie
// comes from this site. crossOrigin lets an unsafe request with neither
// Sec-Fetch-Site nor Origin through, since that is what non-browser
// clients send; but the session cookie is a browser's, and browsers send
// at least one of the two on every unsafe request, so a cookie request
// with neither was not made by this site's pages and is refused too.
func fromThisSite(r *http.Request) error {
	if err := crossOrigin.Check(r); err != nil {
		return errCrossSite
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil // reads change nothing; crossOrigin lets them through too
	}
	if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
		return errCrossSite
	}
	return nil
}

// roleRank orders roles so "at least maintainer" is one comparison.
func roleRank(r auth.Role) int {
	switch r {
	case auth.Admin:
		return 3
	case auth.Maintainer:
		return 2
	case auth.Viewer:
		return 1
	}
	return 0
}

// require wraps a handler with authentication and a minimum role.
func (s *Server) require(min auth.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, _ := principal(r.Context())
		if roleRank(p.Role) < roleRank(min) {
			writeError(w, http.StatusForbidden, "this needs the "+string(min)+" role; you are "+string(p.Role), map[string]any{"required_role": min})
			return
		}
		h(w, r)
	})
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(d.Round(time.Second)/time.Second) + 1)
}
