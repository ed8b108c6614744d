package httpapi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func jsonOf(n int) string { return `{"pad":"` + strings.Repeat("x", n) + `"}` }

func TestCompress(t *testing.T) {
	big, small := jsonOf(4000), jsonOf(100)
	serve := func(contentType, encoding, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			if encoding != "" {
				w.Header().Set("Content-Encoding", encoding)
			}
			io.WriteString(w, body)
		})
	}
	tests := []struct {
		name     string
		method   string
		accept   string
		handler  http.Handler
		wantGzip bool
		wantVary bool
		wantBody string
	}{
		{name: "big JSON, gzip accepted", accept: "gzip, deflate, br", handler: serve("application/json; charset=utf-8", "", big), wantGzip: true, wantVary: true, wantBody: big},
		{name: "big JSON, gzip with a q-value", accept: "br;q=1.0, gzip;q=0.8", handler: serve("application/json", "", big), wantGzip: true, wantVary: true, wantBody: big},
		{name: "big JSON, no Accept-Encoding", handler: serve("application/json", "", big), wantVary: true, wantBody: big},
		{name: "big JSON, gzip refused with q=0", accept: "gzip;q=0", handler: serve("application/json", "", big), wantVary: true, wantBody: big},
		{name: "small JSON stays as it is", accept: "gzip", handler: serve("application/json", "", small), wantVary: true, wantBody: small},
		{name: "script", accept: "gzip", handler: serve("text/javascript; charset=utf-8", "", big), wantGzip: true, wantVary: true, wantBody: big},
		{name: "already encoded (pre-compressed asset)", accept: "gzip", handler: serve("text/javascript", "br", big), wantBody: big},
		{name: "event stream reaches the client as written", accept: "gzip", handler: serve("text/event-stream", "", big), wantBody: big},
		{name: "image", accept: "gzip", handler: serve("image/png", "", big), wantBody: big},
		{name: "HEAD", method: http.MethodHead, accept: "gzip", handler: serve("application/json", "", big), wantBody: big},
		{name: "written in small pieces", accept: "gzip", handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			for i := range 500 {
				fmt.Fprintf(w, "%04d,", i)
			}
		}), wantGzip: true, wantVary: true, wantBody: func() string {
			var b strings.Builder
			for i := range 500 {
				fmt.Fprintf(&b, "%04d,", i)
			}
			return b.String()
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, "/x", nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Encoding", tt.accept)
			}
			rec := httptest.NewRecorder()
			compress(tt.handler).ServeHTTP(rec, r)
			gotGzip := rec.Header().Get("Content-Encoding") == "gzip"
			if gotGzip != tt.wantGzip {
				t.Fatalf("Content-Encoding %q, want gzip: %v", rec.Header().Get("Content-Encoding"), tt.wantGzip)
			}
			if got := rec.Header().Get("Vary") == "Accept-Encoding"; got != tt.wantVary {
				t.Errorf("Vary %q, want Accept-Encoding: %v", rec.Header().Get("Vary"), tt.wantVary)
			}
			body := rec.Body.Bytes()
			if gotGzip {
				if rec.Header().Get("Content-Length") != "" {
					t.Errorf("a compressed answer keeps Content-Length %s", rec.Header().Get("Content-Length"))
				}
				if len(body) >= len(tt.wantBody) {
					t.Errorf("compressed body %d bytes, plain %d", len(body), len(tt.wantBody))
				}
				body = gunzip(t, body)
			}
			if string(body) != tt.wantBody {
				t.Errorf("body %.60q..., want %.60q...", body, tt.wantBody)
			}
		})
	}
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("broken gzip: %v", err)
	}
	return out
}

// The server's handler compresses what it serves, and many concurrent
// answers sharing the pooled gzip writers each decompress to their own body.
func TestServerCompressesConcurrently(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		io.WriteString(w, strings.Repeat(r.URL.Path, 500))
	})
	srv := httptest.NewServer(New(Deps{License: devLicence(t), UI: ui}).Handler())
	defer srv.Close()
	// The transport asks for gzip and would undo it silently; ask by hand.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/assets/file-%02d.js", i)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
				errs <- fmt.Errorf("%s: Content-Encoding %q, Vary %q", path, resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
				return
			}
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(zr)
			if err != nil || string(body) != strings.Repeat(path, 500) {
				errs <- fmt.Errorf("%s: body of another answer or broken (%v)", path, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
