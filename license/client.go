package license

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultServerURL is the PenguinTech licence server.
const DefaultServerURL = "https://license.penguintech.io"

// DefaultTimeout bounds one call to the licence server.
const DefaultTimeout = 10 * time.Second

// The API paths of the licence server.
const (
	PathValidate  = "/api/v2/validate"
	PathFeatures  = "/api/v2/features"
	PathKeepalive = "/api/v2/keepalive"
)

// maxResponseBytes caps what is read from the server; a licence answer is a
// few kilobytes.
const maxResponseBytes = 1 << 20

// ClientOptions configure a [Client]. The zero value talks to
// [DefaultServerURL] with [DefaultTimeout].
type ClientOptions struct {
	// ServerURL is the base URL of the licence server. It must be https,
	// except for localhost and loopback addresses.
	ServerURL string
	// HTTPClient sends the requests; nil means a private client. Redirects
	// to plain http are refused whichever client is used.
	HTTPClient *http.Client
	// Timeout bounds each call, on top of any deadline in the context.
	Timeout time.Duration
	// UserAgent is sent with every request.
	UserAgent string
	// Now tells the time for the expiry check; nil means time.Now.
	Now func() time.Time
}

// Client calls the licence server API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	hc        *http.Client
	ownHC     bool
	timeout   time.Duration
	userAgent string
	now       func() time.Time
}

// NewClient returns a client for the licence server at opts.ServerURL.
func NewClient(opts ClientOptions) (*Client, error) {
	raw := opts.ServerURL
	if strings.TrimSpace(raw) == "" {
		raw = DefaultServerURL
	}
	base, err := ParseServerURL(raw)
	if err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("licence client timeout must not be negative, got %s", opts.Timeout)
	}
	c := &Client{base: base, timeout: opts.Timeout, userAgent: opts.UserAgent, now: opts.Now}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "rookery-license"
	}
	if c.now == nil {
		c.now = time.Now
	}
	if opts.HTTPClient == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		c.hc = &http.Client{Transport: transport}
		c.ownHC = true
	} else {
		// A shallow copy lets us add the redirect rule without changing a
		// client the caller may share with other code.
		hc := *opts.HTTPClient
		c.hc = &hc
	}
	next := c.hc.CheckRedirect
	c.hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkServerURL(req.URL); err != nil {
			return fmt.Errorf("refusing redirect: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return c, nil
}

// ServerURL returns the base URL the client talks to.
func (c *Client) ServerURL() string { return c.base.String() }

// closeIdle releases pooled connections of a client this package created.
func (c *Client) closeIdle() {
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
}

// ParseServerURL checks a licence server base URL: https, or plain http only
// for localhost and loopback addresses, since the licence key travels in every
// request. It refuses credentials, queries and fragments.
func ParseServerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("licence server URL is not a valid URL: %w", err)
	}
	if err := checkServerURL(u); err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("licence server URL %s must not have a query or fragment", u.Redacted())
	}
	return u, nil
}

func checkServerURL(u *url.URL) error {
	if u.User != nil {
		return fmt.Errorf("licence server URL %s must not contain credentials", u.Redacted())
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("licence server URL %q has no host; expected something like %s", u.Redacted(), DefaultServerURL)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("licence server URL %s must use https: plain http is allowed only for localhost", u.Redacted())
	default:
		return fmt.Errorf("licence server URL %s must use https", u.Redacted())
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Validate asks the server whether key is a valid licence for product.
//
// A key without the licence key shape fails with [ErrInvalidKey] before any
// request. If the licence has expired the error wraps [ErrExpired] and the
// Validation is returned as well, so the caller can show what expired.
func (c *Client) Validate(ctx context.Context, key Key, product string) (*Validation, error) {
	const op = "validate"
	if err := checkCall(op, key, product); err != nil {
		return nil, err
	}
	var v Validation
	body := map[string]string{"product": product}
	if err := c.post(ctx, op, PathValidate, key, body, &v); err != nil {
		return nil, err
	}
	if v.Valid != nil && !*v.Valid {
		msg := cleanMessage(v.Message, key)
		if msg == "" {
			msg = "the server reported the licence as not valid"
		}
		return nil, &Error{Op: op, Kind: ErrRejected, StatusCode: http.StatusOK, Message: msg}
	}
	if !v.ExpiresAt.IsZero() && !c.now().Before(v.ExpiresAt) {
		return &v, &Error{Op: op, Kind: ErrExpired, Message: "expires_at " + v.ExpiresAt.Format(time.RFC3339) + " has passed"}
	}
	return &v, nil
}

// Features asks the server about one feature of product (or about all of
// them when feature is empty).
func (c *Client) Features(ctx context.Context, key Key, product, feature string) ([]Feature, error) {
	const op = "features"
	if err := checkCall(op, key, product); err != nil {
		return nil, err
	}
	var out struct {
		Features []Feature `json:"features"`
	}
	body := map[string]string{"product": product, "feature": feature}
	if err := c.post(ctx, op, PathFeatures, key, body, &out); err != nil {
		return nil, err
	}
	return out.Features, nil
}

// keepaliveWire carries both keepalive forms in one body: the form of the
// integration standards (license_key, usage) and the form the server
// documents (server_id, usage_stats). The server ignores what it does not
// know.
type keepaliveWire struct {
	LicenseKey    string         `json:"license_key"`
	Product       string         `json:"product"`
	ServerID      string         `json:"server_id"`
	Hostname      string         `json:"hostname"`
	Version       string         `json:"version"`
	UptimeSeconds int64          `json:"uptime_seconds"`
	Usage         *Usage         `json:"usage,omitempty"`
	UsageStats    usageStatsWire `json:"usage_stats"`
}

type usageStatsWire struct {
	ActiveUsers  *int64                    `json:"active_users,omitempty"`
	FeatureUsage map[string]featureUseWire `json:"feature_usage"`
}

type featureUseWire struct {
	UsageCount int64 `json:"usage_count"`
}

// Keepalive reports that the product is running, with its usage.
func (c *Client) Keepalive(ctx context.Context, key Key, k Keepalive) error {
	const op = "keepalive"
	if err := checkCall(op, key, k.Product); err != nil {
		return err
	}
	w := keepaliveWire{
		LicenseKey:    string(key),
		Product:       k.Product,
		ServerID:      k.ServerID,
		Hostname:      k.Hostname,
		Version:       k.Version,
		UptimeSeconds: int64(k.Uptime / time.Second),
		Usage:         k.Usage,
		UsageStats:    usageStatsWire{FeatureUsage: make(map[string]featureUseWire, len(k.FeatureUsage))},
	}
	if k.Usage != nil {
		w.UsageStats.ActiveUsers = &k.Usage.ActiveUsers
	}
	for name, n := range k.FeatureUsage {
		w.UsageStats.FeatureUsage[name] = featureUseWire{UsageCount: n}
	}
	return c.post(ctx, op, PathKeepalive, key, w, nil)
}

func checkCall(op string, key Key, product string) error {
	if err := CheckKey(string(key)); err != nil {
		return &Error{Op: op, Kind: ErrInvalidKey, Err: err}
	}
	if strings.TrimSpace(product) == "" {
		return fmt.Errorf("%s licence: product name is empty; set PRODUCT_NAME", op)
	}
	return nil
}

// post sends one JSON call and decodes a 2xx answer into out (if not nil).
func (c *Client) post(ctx context.Context, op, path string, key Key, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s licence: encode request: %w", op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath(path).String(), bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%s licence: build request: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+string(key))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		return &Error{Op: op, Kind: ErrUnavailable, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return &Error{Op: op, Kind: ErrUnavailable, StatusCode: resp.StatusCode, Message: "reading the response failed", Err: err}
	}
	if len(data) > maxResponseBytes {
		return &Error{Op: op, Kind: ErrUnavailable, StatusCode: resp.StatusCode, Message: "response larger than 1 MiB"}
	}

	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return &Error{Op: op, Kind: ErrUnavailable, StatusCode: code, Message: "unreadable response", Err: err}
		}
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return &Error{Op: op, Kind: ErrUnavailable, StatusCode: code, Message: serverMessage(data, key)}
	default:
		return &Error{Op: op, Kind: ErrRejected, StatusCode: code, Message: serverMessage(data, key)}
	}
}

// serverMessage pulls the explanation out of an error body. Bodies that are
// not JSON (an HTML page from a proxy) are not echoed.
func serverMessage(data []byte, key Key) string {
	var body map[string]any
	if json.Unmarshal(data, &body) != nil {
		return ""
	}
	for _, field := range [...]string{"message", "error", "detail", "msg"} {
		switch v := body[field].(type) {
		case string:
			if msg := cleanMessage(v, key); msg != "" {
				return msg
			}
		case map[string]any:
			if s, ok := v["message"].(string); ok {
				if msg := cleanMessage(s, key); msg != "" {
					return msg
				}
			}
		}
	}
	return ""
}

// cleanMessage makes a server-provided text safe to put in an error: one
// line, short, and without the licence key should the server echo it.
func cleanMessage(s string, key Key) string {
	if key != "" {
		s = strings.ReplaceAll(s, string(key), MaskKey(string(key)))
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return truncate(strings.Join(strings.Fields(s), " "), 200)
}
