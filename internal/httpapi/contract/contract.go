// Package contract checks HTTP answers against rookery's API document with
// kin-openapi's openapi3filter. The test suites put it in front of the
// servers they call, so an answer the document does not describe (a field,
// a type, a status) fails a test; it is never part of the server.
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

var registerDecoders sync.Once

// Checker holds a loaded document and finds the operation of a request the
// way the server's ServeMux does, so /api/v1/config/export is not taken
// for /api/v1/config/{key}.
type Checker struct {
	doc *openapi3.T
	mux *http.ServeMux
	ops map[string]*routers.Route // by ServeMux pattern
}

// New loads and validates an OpenAPI 3.1 document.
func New(ctx context.Context, document []byte) (*Checker, error) {
	registerDecoders.Do(func() {
		// Bodies the API sends besides JSON: the Server-Sent Events streams
		// are checked as text, the JSON Schema as JSON.
		openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/schema+json", openapi3filter.JSONBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/samlmetadata+xml", openapi3filter.PlainBodyDecoder)
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load the API document: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("the API document is not valid: %w", err)
	}
	c := &Checker{doc: doc, mux: http.NewServeMux(), ops: map[string]*routers.Route{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			c.ops[pattern] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			c.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				m := w.(*match)
				m.pattern = r.Pattern
				for _, p := range op.Parameters {
					if p.Value != nil && p.Value.In == openapi3.ParameterInPath {
						m.params[p.Value.Name] = r.PathValue(p.Value.Name)
					}
				}
			}))
		}
	}
	return c, nil
}

// Document is the loaded document.
func (c *Checker) Document() *openapi3.T { return c.doc }

// Check validates one answer to req, whose body was reqBody. Requests
// outside the document (the web interface, unknown paths) are not checked;
// HEAD answers have no body to check. A request the server accepted (2xx)
// must itself be one the document allows: a document stricter than the
// server would mislead the clients generated from it. Refused requests
// are not checked, since tests send wrong ones on purpose.
func (c *Checker) Check(ctx context.Context, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	if req.Method == http.MethodHead {
		return nil
	}
	m := &match{header: http.Header{}, params: map[string]string{}}
	c.mux.ServeHTTP(m, req.Clone(ctx))
	route, ok := c.ops[m.pattern]
	if !ok {
		return nil
	}
	params := m.params
	if status >= 200 && status < 300 {
		probe := req.Clone(ctx)
		probe.Body = io.NopCloser(bytes.NewReader(reqBody))
		rin := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SkipSettingDefaults: true}}
		if err := openapi3filter.ValidateRequest(ctx, rin); err != nil {
			return fmt.Errorf("%s %s was accepted (%d), but %s does not allow the request: %w", req.Method, req.URL.Path, status,
				strings.ToUpper(route.Method)+" "+route.Path, trim(err))
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: false},
	}
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return fmt.Errorf("%s %s answered %d, which %s does not describe: %w", req.Method, req.URL.Path, status,
			strings.ToUpper(route.Method)+" "+route.Path, trim(err))
	}
	return nil
}

// match is the ResponseWriter the checker's mux "answers" with: the
// pattern and path values a request matched.
type match struct {
	header  http.Header
	pattern string
	params  map[string]string
}

func (m *match) Header() http.Header         { return m.header }
func (m *match) Write(b []byte) (int, error) { return len(b), nil }
func (m *match) WriteHeader(int)             {}

// trim keeps the first lines of a validation error: the schema dump
// kin-openapi appends is long and says little more.
func trim(err error) error {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > 6 {
		lines = append(lines[:6], "...")
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Transport is an http.RoundTripper that checks every answer it carries
// and reports the ones the document does not describe.
type Transport struct {
	Checker *Checker
	Next    http.RoundTripper
	Report  func(error)
}

func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	var reqBody []byte
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			reqBody, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A stream may never end; its status and type are still checked.
		if err := t.Checker.Check(req.Context(), req, reqBody, resp.StatusCode, resp.Header, nil); err != nil && !isBodyError(err) {
			t.Report(err)
		}
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, nil // the caller sees the short body
	}
	if err := t.Checker.Check(req.Context(), req, reqBody, resp.StatusCode, resp.Header, body); err != nil {
		t.Report(err)
	}
	return resp, nil
}

func isBodyError(err error) bool { return strings.Contains(err.Error(), "body") }

// Handler checks every answer of next, as a middleware in front of a
// handler under test.
func (c *Checker) Handler(next http.Handler, report func(error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reqBody []byte
		if r.Body != nil {
			reqBody, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if err := c.Check(r.Context(), r, reqBody, rec.status, w.Header(), rec.body.Bytes()); err != nil {
			report(err)
		}
	})
}

// recorder passes an answer through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
