// Command contractproxy stands between the end-to-end tests' browser and
// one rookery server, and checks every answer the server gives against the
// API document it serves (/api/v1/openapi.json): an undeclared status, a
// field of the wrong type, a field the document does not name. Answers
// pass through unchanged; each violation is written as one line to the
// -violations file, which the e2e script reads at the end and fails on.
//
// Usage:
//
//	contractproxy -listen 127.0.0.1:PORT -target http://127.0.0.1:8080 -violations FILE
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/internal/httpapi/contract"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "contractproxy:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("contractproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	target := fs.String("target", "", "base URL of the rookery server")
	violations := fs.String("violations", "", "file the violations are appended to, one a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" || *violations == "" {
		return errors.New("-target and -violations are required")
	}
	base, err := url.Parse(*target)
	if err != nil {
		return fmt.Errorf("-target: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	doc, err := fetchDocument(ctx, base.JoinPath(httpapi.OpenAPIPath).String())
	if err != nil {
		return err
	}
	checker, err := contract.New(ctx, doc)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(*violations, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	rec := &recorder{out: out}
	proxy := newProxy(base, checker, rec)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("checking the answers of %s at http://%s", base, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Printf("checked %d answers; %d did not match the document", rec.checked.Load(), rec.violations.Load())
	return nil
}

// newProxy forwards to base and checks the API's answers on the way back.
func newProxy(base *url.URL, checker *contract.Checker, rec *recorder) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(base)
			// rookery sees the host the browser asked for, so its
			// same-origin checks compare like with like.
			r.Out.Host = r.In.Host
			// API answers come uncompressed, so they can be read here;
			// the web interface's files keep their encodings.
			if checked(r.In.URL.Path) {
				r.Out.Header.Set("Accept-Encoding", "identity")
				// Keep the request body for the check of accepted requests.
				if r.In.Body != nil {
					body, _ := io.ReadAll(r.In.Body)
					r.Out.Body = io.NopCloser(bytes.NewReader(body))
					r.Out = r.Out.WithContext(context.WithValue(r.Out.Context(), requestBodyKey{}, body))
				}
			}
		},
		// Server-Sent Events go through as they come.
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			req := resp.Request
			if !checked(req.URL.Path) {
				return nil
			}
			rec.checked.Add(1)
			if resp.Header.Get("Content-Encoding") != "" {
				rec.add(fmt.Errorf("%s %s: answered with Content-Encoding %s although none was accepted", req.Method, req.URL.Path, resp.Header.Get("Content-Encoding")))
				return nil
			}
			if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				// A stream may never end: its status and type are checked.
				if err := checker.Check(req.Context(), req, requestBody(req), resp.StatusCode, resp.Header, nil); err != nil && !strings.Contains(err.Error(), "body") {
					rec.add(err)
				}
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			if err != nil {
				return err
			}
			if err := checker.Check(req.Context(), req, requestBody(req), resp.StatusCode, resp.Header, body); err != nil {
				rec.add(err)
			}
			return nil
		},
	}
}

type requestBodyKey struct{}

func requestBody(r *http.Request) []byte {
	b, _ := r.Context().Value(requestBodyKey{}).([]byte)
	return b
}

// checked says whether the answers of a path are checked: the API's, not
// the web interface's files.
func checked(path string) bool {
	return strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz" || path == "/metrics"
}

func fetchDocument(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the API document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the API document: %s answered %s", u, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// recorder appends violations to the file, one a line.
type recorder struct {
	mu                  sync.Mutex
	out                 io.Writer
	checked, violations atomic.Int64
}

func (r *recorder) add(err error) {
	r.violations.Add(1)
	line := strings.ReplaceAll(err.Error(), "\n", " ")
	log.Print("violation: ", line)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = fmt.Fprintln(r.out, line)
}
