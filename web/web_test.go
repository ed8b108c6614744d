package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(h http.Handler, path, accept string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		r.Header.Set("Accept-Encoding", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestAssetsPrecompressedAndCached(t *testing.T) {
	h := handler(fstest.MapFS{
		"index.html":             {Data: []byte(`<!doctype html><script src="/assets/app-1a2b.js"></script>`)},
		"favicon.svg":            {Data: []byte(`<svg/>`)},
		"assets/app-1a2b.js":     {Data: []byte("plain")},
		"assets/app-1a2b.js.gz":  {Data: []byte("gzipped")},
		"assets/app-1a2b.js.br":  {Data: []byte("brotli")},
		"assets/tiny-3c4d.css":   {Data: []byte("a{}")},
		"assets/only-5e6f.js":    {Data: []byte("plain only")},
		"assets/only-5e6f.js.gz": {Data: []byte("gz only")},
	})
	const immutable = "public, max-age=31536000, immutable"
	tests := []struct {
		name, path, accept          string
		status                      int
		body, encoding, cache, vary string
		contentTypePrefix           string
	}{
		{name: "brotli preferred", path: "/assets/app-1a2b.js", accept: "gzip, deflate, br", status: 200, body: "brotli", encoding: "br", cache: immutable, vary: "Accept-Encoding", contentTypePrefix: "text/javascript"},
		{name: "gzip when brotli is not accepted", path: "/assets/app-1a2b.js", accept: "gzip", status: 200, body: "gzipped", encoding: "gzip", cache: immutable, vary: "Accept-Encoding", contentTypePrefix: "text/javascript"},
		{name: "brotli refused with q=0", path: "/assets/app-1a2b.js", accept: "br;q=0, gzip", status: 200, body: "gzipped", encoding: "gzip", cache: immutable, vary: "Accept-Encoding"},
		{name: "plain without Accept-Encoding", path: "/assets/app-1a2b.js", status: 200, body: "plain", cache: immutable, vary: "Accept-Encoding", contentTypePrefix: "text/javascript"},
		{name: "only gzip built", path: "/assets/only-5e6f.js", accept: "br", status: 200, body: "plain only", cache: immutable, vary: "Accept-Encoding"},
		{name: "small asset, nothing built", path: "/assets/tiny-3c4d.css", accept: "gzip, br", status: 200, body: "a{}", cache: immutable, contentTypePrefix: "text/css"},
		{name: "missing asset", path: "/assets/gone-0000.js", accept: "gzip", status: 404},
		{name: "root is index.html, never cached", path: "/", accept: "gzip", status: 200, body: `<!doctype html>`, cache: "no-cache", contentTypePrefix: "text/html"},
		{name: "client route is index.html", path: "/settings", status: 200, body: `<!doctype html>`, cache: "no-cache"},
		{name: "index.html by name", path: "/index.html", status: 200, body: `<!doctype html>`, cache: "no-cache"},
		{name: "other file", path: "/favicon.svg", status: 200, body: `<svg/>`, contentTypePrefix: "image/svg+xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(h, tt.path, tt.accept)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if !strings.HasPrefix(rec.Body.String(), tt.body) {
				t.Errorf("body %q, want %q", rec.Body.String(), tt.body)
			}
			for header, want := range map[string]string{"Content-Encoding": tt.encoding, "Cache-Control": tt.cache, "Vary": tt.vary} {
				if got := rec.Header().Get(header); got != want {
					t.Errorf("%s %q, want %q", header, got, want)
				}
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.contentTypePrefix) {
				t.Errorf("Content-Type %q, want %s...", ct, tt.contentTypePrefix)
			}
		})
	}
}

// The committed build: a cold load of /settings (index.html and every
// asset it names, as a browser asks for them) stays within 120 KB, and
// every script and style sheet has its pre-compressed forms.
func TestColdLoadOfSettingsIsSmall(t *testing.T) {
	h := Handler()
	const accept = "gzip, deflate, br, zstd"
	page := get(h, "/settings", accept)
	if page.Code != 200 || page.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("/settings: status %d, Cache-Control %q", page.Code, page.Header().Get("Cache-Control"))
	}
	total := page.Body.Len()
	assets := regexp.MustCompile(`/assets/[^"']+`).FindAllString(page.Body.String(), -1)
	if len(assets) == 0 {
		t.Fatalf("index.html names no assets: %s", page.Body.String())
	}
	for _, a := range assets {
		rec := get(h, a, accept)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "br" {
			t.Errorf("%s: status %d, Content-Encoding %q; want a pre-compressed answer", a, rec.Code, rec.Header().Get("Content-Encoding"))
		}
		if gz := get(h, a, "gzip"); gz.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: no gzip form for a browser without brotli", a)
		}
		total += len(body)
	}
	if total > 120<<10 {
		t.Fatalf("a cold load of /settings transfers %d bytes, want at most %d", total, 120<<10)
	}
	t.Logf("cold load of /settings: %d bytes (%d assets)", total, len(assets))
}
