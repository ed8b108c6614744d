package marchproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TokenLifetime is how long the real server's access tokens live. Its login
// answer claims expires_in 3600, which is wrong; the client trusts this value
// (or a shorter expires_in, should the server ever send one).
const TokenLifetime = 30 * time.Minute

// DefaultAPI is the standards' default MARCHPROXY_API.
const DefaultAPI = "http://localhost:8000"

// maxBody bounds how much of a success body the client reads.
const maxBody = 32 << 20

// Client speaks the real MarchProxy API server's v1 contract. It is safe for
// concurrent use and starts no goroutines.
type Client struct {
	base     string
	hc       *http.Client
	now      func() time.Time
	lifetime time.Duration
	pageSize int

	mu    sync.Mutex
	creds *credentials
	tok   session
}

type credentials struct {
	username string
	password Secret
	totp     string
}

type session struct {
	access  Secret
	refresh Secret
	renewAt time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 30 s timeout).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithClock sets the clock used to decide when to refresh the access token.
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// WithTokenLifetime overrides TokenLifetime, for servers configured with a
// different ACCESS_TOKEN_EXPIRE_MINUTES.
func WithTokenLifetime(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.lifetime = d
		}
	}
}

// WithPageSize sets the page size of ListServices (1-1000, default 100).
func WithPageSize(n int) Option {
	return func(c *Client) {
		if n >= 1 && n <= 1000 {
			c.pageSize = n
		}
	}
}

// NewClient returns a client for the API at baseURL, e.g.
// "http://localhost:8000". A trailing "/api/v1" is accepted and ignored.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	base, err := normalizeBase(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:     base,
		hc:       &http.Client{Timeout: 30 * time.Second},
		now:      time.Now,
		lifetime: TokenLifetime,
		pageSize: 100,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func normalizeBase(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultAPI
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("MarchProxy API address %q: want http(s)://host[:port]", raw)
	}
	if u.User != nil {
		return "", errors.New("MarchProxy API address: credentials in the URL are not supported; use the username and password settings")
	}
	u.RawQuery, u.Fragment = "", ""
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api/v1")
	u.Path = strings.TrimRight(p, "/")
	return u.String(), nil
}

// BaseURL returns the normalised API address.
func (c *Client) BaseURL() string { return c.base }

// Login authenticates a user and keeps the credentials so the client can log
// in again when the refresh token stops working. totp may be empty; when the
// account has 2FA the server then answers without tokens and Login returns
// ErrTOTPRequired. A TOTP code is short-lived, so a later automatic re-login
// of a 2FA account may fail; the error says so.
func (c *Client) Login(ctx context.Context, username string, password Secret, totp string) (User, error) {
	if username == "" || password.IsZero() {
		return User{}, errors.New("log in to MarchProxy: username and password are required")
	}
	cr := &credentials{username: username, password: password, totp: totp}
	c.mu.Lock()
	defer c.mu.Unlock()
	u, s, err := c.login(ctx, cr)
	if err != nil {
		return User{}, err
	}
	c.creds, c.tok = cr, s
	return u, nil
}

type loginResponse struct {
	User
	Requires2FA  bool    `json:"requires_2fa"`
	AccessToken  *Secret `json:"access_token"`
	RefreshToken *Secret `json:"refresh_token"`
	ExpiresIn    *int    `json:"expires_in"`
}

func (c *Client) login(ctx context.Context, cr *credentials) (User, session, error) {
	body := map[string]string{"username": cr.username, "password": cr.password.Reveal()}
	if cr.totp != "" {
		body["totp_code"] = cr.totp
	}
	var lr loginResponse
	if err := c.call(ctx, http.MethodPost, "/api/v1/auth/login", nil, body, nil, &lr, http.StatusOK); err != nil {
		if cr.totp != "" && errors.Is(err, ErrUnauthorized) {
			return User{}, session{}, fmt.Errorf("log in to MarchProxy as %q (a 2FA code is valid only briefly): %w", cr.username, err)
		}
		return User{}, session{}, fmt.Errorf("log in to MarchProxy as %q: %w", cr.username, err)
	}
	if lr.AccessToken == nil || lr.AccessToken.IsZero() {
		if lr.Requires2FA && cr.totp == "" {
			return User{}, session{}, fmt.Errorf("log in to MarchProxy as %q: %w", cr.username, ErrTOTPRequired)
		}
		return User{}, session{}, fmt.Errorf("log in to MarchProxy as %q: the server returned no access token", cr.username)
	}
	return lr.User, c.newSession(*lr.AccessToken, lr.RefreshToken, lr.ExpiresIn), nil
}

func (c *Client) newSession(access Secret, refresh *Secret, expiresIn *int) session {
	life := c.lifetime
	if expiresIn != nil && *expiresIn > 0 {
		life = min(life, time.Duration(*expiresIn)*time.Second)
	}
	// Renew a little early so a request never leaves with a token that
	// expires on the way.
	margin := min(time.Minute, life/10)
	s := session{access: access, renewAt: c.now().Add(life - margin)}
	if refresh != nil {
		s.refresh = *refresh
	}
	return s
}

// token returns a usable access token, renewing it first when it is due.
func (c *Client) token(ctx context.Context) (Secret, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.creds == nil {
		return Secret{}, ErrNotLoggedIn
	}
	if c.tok.access.IsZero() || !c.now().Before(c.tok.renewAt) {
		if err := c.renewLocked(ctx); err != nil {
			return Secret{}, err
		}
	}
	return c.tok.access, nil
}

// rejected is called after a 401 with the token that was refused; the
// session is renewed unless another request has already done it.
func (c *Client) rejected(ctx context.Context, stale Secret) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.access != stale {
		return nil
	}
	return c.renewLocked(ctx)
}

// renewLocked tries the refresh token, then a fresh login.
func (c *Client) renewLocked(ctx context.Context) error {
	var refreshErr error
	if c.tok.refresh.IsSet() {
		var tr struct {
			AccessToken  Secret  `json:"access_token"`
			RefreshToken *Secret `json:"refresh_token"`
			ExpiresIn    *int    `json:"expires_in"`
		}
		body := map[string]string{"refresh_token": c.tok.refresh.Reveal()}
		refreshErr = c.call(ctx, http.MethodPost, "/api/v1/auth/refresh", nil, body, nil, &tr, http.StatusOK)
		if refreshErr == nil && tr.AccessToken.IsSet() {
			if tr.RefreshToken == nil {
				tr.RefreshToken = &c.tok.refresh
			}
			c.tok = c.newSession(tr.AccessToken, tr.RefreshToken, tr.ExpiresIn)
			return nil
		}
		if refreshErr == nil {
			refreshErr = errors.New("the server returned no access token")
		}
		if ctx.Err() != nil {
			return fmt.Errorf("refresh MarchProxy session: %w", refreshErr)
		}
	}
	c.tok = session{}
	_, s, err := c.login(ctx, c.creds)
	if err != nil {
		if refreshErr != nil {
			return fmt.Errorf("renew MarchProxy session: refresh failed (%v), then %w", refreshErr, err)
		}
		return fmt.Errorf("renew MarchProxy session: %w", err)
	}
	c.tok = s
	return nil
}

// do calls a route that needs the user's access token. A 401 renews the
// session (refresh, else login) and retries once; the server rejects a 401
// request before acting on it, so the retry cannot apply a change twice.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any, want ...int) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		h := http.Header{"Authorization": {"Bearer " + tok.Reveal()}}
		err = c.send(ctx, method, path, query, payload, h, out, want...)
		var ae *APIError
		if attempt == 0 && errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized {
			if rerr := c.rejected(ctx, tok); rerr != nil {
				return rerr
			}
			continue
		}
		return err
	}
}

// call sends an unauthenticated JSON request.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body any, h http.Header, out any, want ...int) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	return c.send(ctx, method, path, query, payload, h, out, want...)
}

func (c *Client) send(ctx context.Context, method, path string, query url.Values, payload []byte, h http.Header, out any, want ...int) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("MarchProxy %s %s: %w", method, path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "rookery-marchproxy")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("MarchProxy %s %s: %w", method, path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if !slices.Contains(want, resp.StatusCode) {
		return parseAPIError(method, path, resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("MarchProxy %s %s: read answer: %w", method, path, err)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("MarchProxy %s %s: decode answer: %w", method, path, describeJSONError(err))
	}
	return nil
}

// unwrapURLError drops url.Error's quoted URL, which repeats what the
// caller's message already says.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Health calls GET /healthz.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	if err := c.call(ctx, http.MethodGet, "/healthz", nil, nil, nil, &h, http.StatusOK); err != nil {
		return Health{}, fmt.Errorf("check MarchProxy health: %w", err)
	}
	return h, nil
}

// ListServices returns every service of the cluster (clusterID 0: of every
// cluster the user can see), following skip/limit pages. With activeOnly
// false it includes soft-deleted services. The result is sorted by id.
func (c *Client) ListServices(ctx context.Context, clusterID int, activeOnly bool) ([]RemoteService, error) {
	var all []RemoteService
	seen := make(map[int]bool)
	for skip := 0; ; {
		q := url.Values{
			"skip":        {strconv.Itoa(skip)},
			"limit":       {strconv.Itoa(c.pageSize)},
			"active_only": {strconv.FormatBool(activeOnly)},
		}
		if clusterID != 0 {
			q.Set("cluster_id", strconv.Itoa(clusterID))
		}
		var page struct {
			Total    int             `json:"total"`
			Services []RemoteService `json:"services"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/services", q, nil, &page, http.StatusOK); err != nil {
			return nil, fmt.Errorf("list MarchProxy services: %w", err)
		}
		// The server pages by offset over created_at descending, so a
		// service created meanwhile can shift an entry onto the next page.
		fresh := 0
		for _, s := range page.Services {
			if !seen[s.ID] {
				seen[s.ID] = true
				all = append(all, s)
				fresh++
			}
		}
		skip += len(page.Services)
		// A page with nothing new means the server ignores skip; stop
		// rather than loop up to a total it will never reach.
		if fresh == 0 || skip >= page.Total {
			break
		}
	}
	slices.SortFunc(all, func(a, b RemoteService) int { return a.ID - b.ID })
	return all, nil
}

// GetService calls GET /api/v1/services/{id}.
func (c *Client) GetService(ctx context.Context, id int) (RemoteService, error) {
	var s RemoteService
	if err := c.do(ctx, http.MethodGet, "/api/v1/services/"+strconv.Itoa(id), nil, nil, &s, http.StatusOK); err != nil {
		return RemoteService{}, fmt.Errorf("get MarchProxy service %d: %w", id, err)
	}
	return s, nil
}

// CreateService calls POST /api/v1/services (201).
func (c *Client) CreateService(ctx context.Context, in ServiceCreate) (RemoteService, error) {
	var s RemoteService
	if err := c.do(ctx, http.MethodPost, "/api/v1/services", nil, in, &s, http.StatusCreated, http.StatusOK); err != nil {
		return RemoteService{}, fmt.Errorf("create MarchProxy service %q: %w", in.Name, err)
	}
	return s, nil
}

// PatchService calls PATCH /api/v1/services/{id}; the server has no PUT.
func (c *Client) PatchService(ctx context.Context, id int, p ServicePatch) (RemoteService, error) {
	var s RemoteService
	if err := c.do(ctx, http.MethodPatch, "/api/v1/services/"+strconv.Itoa(id), nil, p, &s, http.StatusOK); err != nil {
		return RemoteService{}, fmt.Errorf("update MarchProxy service %d: %w", id, err)
	}
	return s, nil
}

// DeleteService calls DELETE /api/v1/services/{id}. Without permanent the
// server only sets is_active=false and keeps the name taken.
func (c *Client) DeleteService(ctx context.Context, id int, permanent bool) error {
	q := url.Values{"permanent": {strconv.FormatBool(permanent)}}
	if err := c.do(ctx, http.MethodDelete, "/api/v1/services/"+strconv.Itoa(id), q, nil, nil, http.StatusNoContent, http.StatusOK); err != nil {
		return fmt.Errorf("delete MarchProxy service %d: %w", id, err)
	}
	return nil
}

// ClusterConfig fetches the configuration a proxy of the cluster receives.
// It authenticates with the cluster API key in the header the server reads,
// literally "cluster-api-key"; no login is needed.
func (c *Client) ClusterConfig(ctx context.Context, clusterID int, clusterAPIKey Secret) (ClusterConfig, error) {
	if clusterAPIKey.IsZero() {
		return ClusterConfig{}, errors.New("fetch MarchProxy cluster config: the cluster API key is required")
	}
	// Set directly so the header keeps the server's spelling on the wire.
	h := http.Header{"cluster-api-key": {clusterAPIKey.Reveal()}}
	var body []byte
	path := "/api/v1/config/" + strconv.Itoa(clusterID)
	if err := c.call(ctx, http.MethodGet, path, nil, nil, h, &body, http.StatusOK); err != nil {
		return ClusterConfig{}, fmt.Errorf("fetch MarchProxy cluster config %d: %w", clusterID, err)
	}
	cfg, err := parseClusterConfig(body)
	if err != nil {
		return ClusterConfig{}, fmt.Errorf("fetch MarchProxy cluster config %d: %w", clusterID, err)
	}
	return cfg, nil
}

// ImportServices posts the standards' bulk body to /api/v1/services/import,
// adding cluster_id to every service since the real server requires it. A
// server without the endpoint (the real v1 server answers 405) gives
// ErrImportUnsupported.
func (c *Client) ImportServices(ctx context.Context, clusterID int, cfg ImportConfig) error {
	type wireService struct {
		Service
		ClusterID int `json:"cluster_id"`
	}
	body := struct {
		Services []wireService `json:"services"`
		Metadata Metadata      `json:"metadata"`
	}{Services: []wireService{}, Metadata: cfg.Metadata}
	for _, s := range cfg.Services {
		body.Services = append(body.Services, wireService{s, clusterID})
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/services/import", nil, body, nil, http.StatusOK, http.StatusCreated, http.StatusNoContent)
	var ae *APIError
	if errors.As(err, &ae) && (ae.StatusCode == http.StatusMethodNotAllowed || ae.StatusCode == http.StatusNotFound) {
		return fmt.Errorf("import MarchProxy services: %w (HTTP %d)", ErrImportUnsupported, ae.StatusCode)
	}
	if err != nil {
		return fmt.Errorf("import MarchProxy services: %w", err)
	}
	return nil
}
