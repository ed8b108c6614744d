package waddleai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"
)

// The sentinel errors. Every error the package returns wraps at most one of
// them, so callers (an HTTP handler mapping to status codes, say) can switch
// on errors.Is.
var (
	// ErrUnauthorized: the gateway refused the API key (401, also 403).
	ErrUnauthorized = errors.New("the gateway refused the API key")
	// ErrBlocked: the gateway's security scan refused the request (400 with a
	// reason such as prompt_injection_detected, pii_detected, no_messages).
	// [BlockReason] returns the reason.
	ErrBlocked = errors.New("the gateway blocked the request")
	// ErrBadRequest: the gateway refused the request for another reason
	// (400 with a free-text message, 404 and the other 4xx).
	ErrBadRequest = errors.New("the gateway rejected the request")
	// ErrOverloaded: too many concurrent requests or the token quota is spent
	// (429). The gateway sends no Retry-After; the client never retries it.
	ErrOverloaded = errors.New("the gateway is overloaded or the token quota is spent")
	// ErrUpstream: the AI provider behind the gateway failed or timed out
	// (502 and 504, messages provider_error_...).
	ErrUpstream = errors.New("the AI provider behind the gateway failed")
	// ErrTimeout: no answer within the client's timeout or the caller's
	// deadline.
	ErrTimeout = errors.New("no answer in time")
	// ErrServer: the gateway itself failed (500 and other 5xx).
	ErrServer = errors.New("the gateway failed")
	// ErrUnavailable: the gateway could not be reached, dropped the
	// connection, or is not ready (503).
	ErrUnavailable = errors.New("the gateway is unreachable or not ready")
	// ErrStream: a stream failed after it had started, most often an error
	// event sent by the gateway in the middle of the stream.
	ErrStream = errors.New("the stream failed")
	// ErrTruncated: a stream ended without [DONE] and without a finish
	// reason. It wraps ErrStream.
	ErrTruncated = fmt.Errorf("%w: it ended before [DONE] without a finish reason", ErrStream)
	// ErrBadModelOutput: the model answered an analysis with something that
	// is not the JSON the task asked for.
	ErrBadModelOutput = errors.New("the model's answer is not the expected JSON")
	// ErrInvalidInput: the caller's input is wrong; no request was sent.
	ErrInvalidInput = errors.New("invalid input")
	// ErrUnexpected: the gateway answered something this client does not
	// understand (an unknown status, a body that is not the chat shape).
	ErrUnexpected = errors.New("unexpected answer from the gateway")
	// ErrClosed: the stream was used after Close.
	ErrClosed = errors.New("the stream is closed")
)

// APIError is an error answered by the gateway: an HTTP status with an error
// body, or an error event in the middle of a stream (Status 200, Kind
// ErrStream). errors.Is(err, Kind) holds.
type APIError struct {
	Status  int    // HTTP status; 200 for an error that arrived inside a stream
	Type    string // the gateway's error type (invalid_request_error, ...); empty for string bodies
	Message string // the gateway's message, with the API key removed should it appear
	Kind    error  // one of the sentinel errors
}

// Error describes the failure as a sentence.
func (e *APIError) Error() string {
	var b strings.Builder
	kind := e.Kind
	if kind == nil {
		kind = ErrUnexpected
	}
	b.WriteString(kind.Error())
	if e.Kind != ErrStream && e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Type != "" {
			b.WriteString(" " + e.Type)
		}
		b.WriteString(")")
	} else if e.Type != "" {
		b.WriteString(" (" + e.Type + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	switch {
	case e.Kind == ErrUnauthorized:
		b.WriteString("; check the WaddleAI API key (waddleai_api_key)")
	case e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed:
		b.WriteString("; check that waddleai_url points at the WaddleAI proxy (port 8080), not the management service")
	}
	return b.String()
}

// Unwrap returns Kind so that errors.Is(err, ErrBlocked) and friends work.
func (e *APIError) Unwrap() error { return e.Kind }

// Reason returns the block reason (prompt_injection_detected, pii_detected,
// no_messages, ...) of an ErrBlocked error, else "".
func (e *APIError) Reason() string {
	if e.Kind != ErrBlocked {
		return ""
	}
	return e.Message
}

// BlockReason returns the reason the gateway gave for blocking a request, and
// whether err is such a block at all.
func BlockReason(err error) (string, bool) {
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok || apiErr.Kind != ErrBlocked {
		return "", false
	}
	return apiErr.Message, true
}

// kindForStatus maps an HTTP status (and, for 400, the message) to a
// sentinel. The gateway's security scan answers 400 with a bare reason token
// such as pii_detected; a malformed body gets a free-text message instead.
func kindForStatus(status int, message string) error {
	switch {
	case status == http.StatusBadRequest && isReasonToken(message):
		return ErrBlocked
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusRequestTimeout:
		return ErrTimeout
	case status == http.StatusTooManyRequests:
		return ErrOverloaded
	case status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		return ErrUpstream
	case status == http.StatusServiceUnavailable:
		return ErrUnavailable
	case status >= 400 && status < 500:
		return ErrBadRequest
	case status >= 500 && status < 600:
		return ErrServer
	default:
		return ErrUnexpected
	}
}

// isReasonToken reports whether s looks like prompt_injection_detected: lower
// case letters, digits and underscores only.
func isReasonToken(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// parseErrorBody reads the gateway's error shapes: {"error":"..."} (the 401
// answers), {"error":{"message","type"}} (everything else), and, to be
// tolerant of whatever sits in front of the gateway, {"detail":"..."},
// {"message":"..."} and plain text.
func parseErrorBody(status int, body []byte, key Secret) *APIError {
	typ, msg := errorFields(body)
	if msg == "" {
		msg = excerpt(string(body), 200)
	}
	msg = key.Redact(msg)
	return &APIError{Status: status, Type: typ, Message: msg, Kind: kindForStatus(status, msg)}
}

// errorFields pulls type and message out of a JSON error body; both are empty
// when the body has no recognisable shape.
func errorFields(body []byte) (typ, msg string) {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", ""
	}
	if len(env.Error) > 0 {
		switch env.Error[0] {
		case '"':
			_ = json.Unmarshal(env.Error, &msg)
			return "", msg
		case '{':
			var obj struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			}
			_ = json.Unmarshal(env.Error, &obj)
			return obj.Type, obj.Message
		}
	}
	if len(env.Detail) > 0 && env.Detail[0] == '"' {
		_ = json.Unmarshal(env.Detail, &msg)
		return "", msg
	}
	if len(env.Detail) > 0 && env.Detail[0] != 'n' {
		return "", excerpt(string(env.Detail), 200)
	}
	return "", env.Message
}

// excerpt shortens s to at most n runes on one line, for error messages.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n]) + "…"
}

// kindError gives a transport-level error (no HTTP answer) a sentinel while
// keeping the original error reachable for errors.Is / errors.As.
type kindError struct {
	kind error
	msg  string
	err  error
}

func (e *kindError) Error() string {
	if e.err == nil {
		return e.kind.Error() + ": " + e.msg
	}
	return e.kind.Error() + ": " + e.msg + ": " + e.err.Error()
}

func (e *kindError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// errClientTimeout is the cancellation cause the client uses for its own
// timeout, to tell it apart from the caller's deadline.
var errClientTimeout = errors.New("waddleai_timeout elapsed")

// transportError classifies an error from http.Client.Do or from reading a
// body. ctx is the context of the request.
func transportError(ctx context.Context, timeout string, err error) error {
	switch {
	case context.Cause(ctx) == errClientTimeout:
		return &kindError{kind: ErrTimeout, msg: "no answer within " + timeout + " (waddleai_timeout)", err: context.DeadlineExceeded}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return &kindError{kind: ErrTimeout, msg: "the caller's deadline passed", err: context.DeadlineExceeded}
	case ctx.Err() != nil:
		// The caller gave up: report that and nothing else.
		return ctx.Err()
	case isNetTimeout(err):
		return &kindError{kind: ErrTimeout, msg: "the connection timed out", err: err}
	case isDialError(err):
		return &kindError{kind: ErrUnavailable, msg: "cannot connect; check waddleai_url", err: err}
	default:
		return &kindError{kind: ErrUnavailable, msg: "the connection failed", err: err}
	}
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isDialError reports whether the request never reached the gateway, which
// makes a retry safe whatever the method.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
