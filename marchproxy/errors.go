package marchproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Sentinel errors. *APIError matches the status-based ones with errors.Is.
var (
	// ErrTOTPRequired: the account has two-factor authentication and no code
	// was given (the server answered 200 with requires_2fa and no tokens).
	ErrTOTPRequired = errors.New("the MarchProxy account has two-factor authentication: a TOTP code is required")
	// ErrImportUnsupported: the server has no POST /api/v1/services/import
	// (the real v1 server answers 405 because /{id} takes the path).
	ErrImportUnsupported = errors.New("the MarchProxy server has no bulk import endpoint (POST /api/v1/services/import)")
	// ErrNotLoggedIn: a user-token route was called before Login.
	ErrNotLoggedIn = errors.New("not logged in to MarchProxy: call Login first")

	ErrUnauthorized = errors.New("MarchProxy refused the credentials (401)")
	ErrForbidden    = errors.New("MarchProxy denied access (403)")
	ErrNotFound     = errors.New("not found on MarchProxy (404)")
	ErrDuplicate    = errors.New("the name already exists on MarchProxy")
	ErrLicenceLimit = errors.New("the MarchProxy licence limit is reached (402)")
)

// APIError is a non-success answer of the MarchProxy API, parsed from
// FastAPI's {"detail": "..."} or 422 {"detail": [{loc, msg, type}]} bodies.
// It never holds the request body or the rejected input values, which may be
// secrets.
type APIError struct {
	Method     string
	Path       string
	StatusCode int
	// Detail is the server's message when detail was a string, or a short
	// excerpt of a non-JSON body.
	Detail string
	// Fields lists the validation failures of a 422.
	Fields []FieldError
}

// FieldError is one entry of a FastAPI validation failure.
type FieldError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

func (f FieldError) String() string {
	loc := f.Loc
	// "body" and "query" prefixes say where, not what; keep them only when
	// nothing else is left.
	if len(loc) > 1 {
		loc = loc[1:]
	}
	if len(loc) == 0 {
		return f.Msg
	}
	return strings.Join(loc, ".") + ": " + f.Msg
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "MarchProxy %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// Is maps status codes to the sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrLicenceLimit:
		return e.StatusCode == http.StatusPaymentRequired
	case ErrDuplicate:
		return e.StatusCode == http.StatusBadRequest && strings.Contains(e.Detail, "already exists")
	}
	return false
}

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 64 << 10

func parseAPIError(method, path string, resp *http.Response) *APIError {
	e := &APIError{Method: method, Path: path, StatusCode: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Detail) > 0 {
		var s string
		if json.Unmarshal(env.Detail, &s) == nil {
			e.Detail = s
			return e
		}
		var items []struct {
			Loc  []any  `json:"loc"`
			Msg  string `json:"msg"`
			Type string `json:"type"`
		}
		if json.Unmarshal(env.Detail, &items) == nil {
			for _, it := range items {
				f := FieldError{Msg: it.Msg, Type: it.Type}
				for _, l := range it.Loc {
					f.Loc = append(f.Loc, fmt.Sprint(l))
				}
				e.Fields = append(e.Fields, f)
			}
			return e
		}
	}
	e.Detail = excerpt(body)
	return e
}

// excerpt keeps the first line of a non-JSON body, short enough for a log.
func excerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
