package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/teams"
	"github.com/rookery/rookery/license"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// apiError is the one error shape of the API: {"error": "..."} plus
// optional details.
type apiError struct {
	Status int
	Msg    string
	Extra  map[string]any
}

func (e *apiError) Error() string { return e.Msg }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, status int, msg string, extra map[string]any) {
	body := map[string]any{"error": msg}
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, status, body)
}

// fail maps an error to its status in one place. Unknown errors are
// logged and answered without detail.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var ve *config.ValidationError
	var ce *config.ConflictError
	var le *license.LimitError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.Status, ae.Msg, ae.Extra)
	case errors.As(err, &le):
		writeError(w, http.StatusForbidden, le.Error(), map[string]any{"limit": le.Limit, le.Limit: le.Max})
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, "invalid value: "+ve.Error(), map[string]any{"key": ve.Key, "reason": ve.Reason})
	case errors.As(err, &ce):
		writeError(w, http.StatusPreconditionFailed, "the setting was changed by someone else; reload it and try again",
			map[string]any{"key": ce.Key, "current_version": ce.Current})
	case errors.Is(err, config.ErrNotFound):
		writeError(w, http.StatusNotFound, "Configuration not found", nil)
	case errors.Is(err, auth.ErrInvalid):
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), auth.ErrInvalid.Error()+": "), nil)
	case errors.Is(err, auth.ErrExists):
		writeError(w, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, auth.ErrKeyNotFound):
		writeError(w, http.StatusNotFound, "API key not found", nil)
	case errors.Is(err, auth.ErrNotFound):
		writeError(w, http.StatusNotFound, "User not found", nil)
	case errors.Is(err, auth.ErrDisabled):
		writeError(w, http.StatusForbidden, err.Error(), nil)
	case errors.Is(err, auth.ErrUnauthorized):
		writeError(w, http.StatusUnauthorized, "sign in first: the session is missing, expired or revoked", nil)
	case errors.Is(err, teams.ErrInvalid):
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), teams.ErrInvalid.Error()+": "), nil)
	case errors.Is(err, teams.ErrExists):
		writeError(w, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, teams.ErrNotFound):
		writeError(w, http.StatusNotFound, "Team not found", nil)
	case db.IsDamaged(err):
		// Checked before "unavailable", whose wrapping it often hides
		// under: a damaged file is not a blip to wait out.
		s.log.Error("the database is damaged", "path", r.URL.Path, "error", err.Error())
		writeError(w, http.StatusInternalServerError, damagedMessage, map[string]any{"database": "damaged"})
	case errors.Is(err, config.ErrUnavailable), errors.Is(err, auth.ErrUnavailable), errors.Is(err, teams.ErrUnavailable):
		s.log.Warn("database unavailable", "path", r.URL.Path, "error", err.Error())
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the database is unavailable; nothing was changed, try again shortly", nil)
	default:
		s.log.Error("request failed", "path", r.URL.Path, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "internal error; the server log has details", nil)
	}
}

// decode reads a JSON body strictly: size-limited, one object, no unknown
// fields, with messages a person can act on.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "send the body as application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxBody)
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, "the body is empty; send a JSON object")
		case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(http.StatusBadRequest, "the body is not valid JSON")
		case errors.As(err, &te):
			return errorf(http.StatusBadRequest, "field %q has the wrong type", te.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return errorf(http.StatusBadRequest, "the body has an %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return errorf(http.StatusBadRequest, "the body could not be read as JSON")
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "the body must hold a single JSON object")
	}
	return nil
}

// logger is the request-scoped logger (with the request id).
func (s *Server) logger(r *http.Request) *slog.Logger {
	return s.log.With("request_id", requestID(r.Context()))
}

// track logs the outcome of a named action (the standards' track_action):
// event.action and event.outcome, plus the error text on failure. attrs
// must not carry secrets.
func (s *Server) track(r *http.Request, action string, err error, attrs ...any) {
	attrs = append(attrs, "event.action", action)
	if p, ok := principal(r.Context()); ok {
		attrs = append(attrs, "user.email", p.Email)
	}
	if err != nil {
		s.logger(r).Warn(action+" failed", append(attrs, "event.outcome", "failure", "error.message", err.Error())...)
		return
	}
	s.logger(r).Info(action, append(attrs, "event.outcome", "success")...)
}
