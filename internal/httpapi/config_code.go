package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
)

// configCodeRoutes are the configuration as code routes: export, apply
// with a plan, restore, the JSON Schema and the live change stream.
func (s *Server) configCodeRoutes() {
	s.mux.Handle("GET /api/v1/config/export", s.require(auth.Admin, s.exportConfig))
	s.mux.Handle("POST /api/v1/config/apply", s.require(auth.Admin, s.applyConfig))
	s.mux.Handle("POST /api/v1/config/restore", s.require(auth.Admin, s.restoreConfigAt))
	s.mux.Handle("POST /api/v1/config/{key}/restore", s.require(auth.Admin, s.restoreConfigVersion))
	s.mux.Handle("GET /api/v1/config/schema", s.require(auth.Admin, s.configSchema))
	s.mux.Handle("GET /api/v1/config/events", s.require(auth.Admin, s.configEvents))
}

// exportConfig answers the stored configuration as a document:
// ?format=yaml|json (json by default for an API), ?category=,
// ?all=true adds keys on their defaults, ?include_secrets=true adds
// secrets sealed with the server's key (never in clear).
func (s *Server) exportConfig(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	q := r.URL.Query()
	format := config.Format(q.Get("format"))
	if format == "" {
		format = config.FormatJSON
	}
	if format != config.FormatJSON && format != config.FormatYAML {
		writeError(w, http.StatusBadRequest, "format must be yaml or json", nil)
		return
	}
	var o config.ExportOptions
	var err error
	o.Category = config.Category(q.Get("category"))
	if o.Category != "" && !config.ValidCategory(o.Category) {
		writeError(w, http.StatusBadRequest, "unknown category; use one of integration, email, security, database, system, license", nil)
		return
	}
	if o.All, err = flag(q.Get("all"), "all"); err != nil {
		s.fail(w, r, err)
		return
	}
	if o.IncludeSecrets, err = flag(q.Get("include_secrets"), "include_secrets"); err != nil {
		s.fail(w, r, err)
		return
	}
	doc, skipped, err := s.cfg.Store().Export(r.Context(), o)
	s.track(r, "config_export", err, "config.category", string(o.Category), "config.include_secrets", o.IncludeSecrets)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := doc.Encode(format)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(skipped) > 0 {
		// Rows that cannot be decrypted are left out; say which.
		w.Header().Set("X-Rookery-Skipped", strings.Join(skipped, ","))
	}
	ct := "application/json; charset=utf-8"
	if format == config.FormatYAML {
		ct = "application/yaml; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// flag reads a boolean query parameter; empty is false.
func flag(v, name string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, ok := config.ParseBool(v)
	if !ok {
		return false, errorf(http.StatusBadRequest, "%s must be true or false", name)
	}
	return b, nil
}

// applyConfig plans a document against the stored configuration and,
// unless dry_run, writes the plan in one transaction (one audit record
// per key, all carrying the request id as change id). The document is
// the JSON object or its YAML text.
func (s *Server) applyConfig(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	var body configApplyRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	raw := bytes.TrimSpace(body.Document)
	if len(raw) == 0 || string(raw) == "null" {
		writeError(w, http.StatusBadRequest, `send {"document": {...}, "dry_run": false, "prune": false}; the document is what GET /api/v1/config/export returns (or its YAML text)`, nil)
		return
	}
	if raw[0] == '"' { // YAML (or JSON) text
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			writeError(w, http.StatusBadRequest, "document must be an object or a string of YAML", nil)
			return
		}
		raw = []byte(text)
	}
	doc, err := config.ParseDocument(raw)
	if err != nil {
		s.codeFail(w, r, err)
		return
	}
	plan, err := s.cfg.Store().PlanDocument(r.Context(), doc, body.Prune)
	if err != nil {
		s.codeFail(w, r, err)
		return
	}
	s.commitPlan(w, r, "config_apply", plan, body.DryRun)
}

// restoreConfigVersion puts back the value a key had at a version of its
// history: {"version": N, "dry_run": false}.
func (s *Server) restoreConfigVersion(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	key := r.PathValue("key")
	var body configRestoreVersionRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Version < 1 {
		writeError(w, http.StatusBadRequest, `send {"version": N} with a version from GET /api/v1/config/`+key+`/history`, nil)
		return
	}
	if _, ok := s.lookup(key); !ok {
		writeError(w, http.StatusNotFound, "Configuration not found", nil)
		return
	}
	plan, err := s.cfg.Store().PlanRestoreVersion(r.Context(), key, body.Version)
	if errors.Is(err, config.ErrNotFound) {
		writeError(w, http.StatusNotFound, key+" has no version "+strconv.FormatInt(body.Version, 10)+" in its history", nil)
		return
	}
	if err != nil {
		s.codeFail(w, r, err)
		return
	}
	s.commitPlan(w, r, "config_restore", plan, body.DryRun)
}

// restoreConfigAt puts every key back to its value at an instant:
// {"at": "2026-11-30T10:00:00Z", "dry_run": false}.
func (s *Server) restoreConfigAt(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	var body configRestoreAtRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	at, err := time.Parse(time.RFC3339Nano, body.At)
	if err != nil {
		writeError(w, http.StatusBadRequest, `at must be an RFC 3339 time such as "2026-11-30T10:00:00Z"`, nil)
		return
	}
	plan, err := s.cfg.Store().PlanRestoreAt(r.Context(), at)
	if err != nil {
		s.codeFail(w, r, err)
		return
	}
	s.commitPlan(w, r, "config_restore_at", plan, body.DryRun)
}

// commitPlan answers a plan, and writes it unless dryRun:
// {"changes": [...], "applied": bool, "change_id", "revision", "skipped"}.
func (s *Server) commitPlan(w http.ResponseWriter, r *http.Request, action string, plan config.Plan, dryRun bool) {
	changes := plan.Changes
	if changes == nil {
		changes = []config.PlannedChange{}
	}
	out := planAnswer{Changes: changes, DryRun: dryRun, Revision: plan.Revision, Skipped: plan.Skipped}
	if dryRun || len(plan.Changes) == 0 {
		writeJSON(w, http.StatusOK, out)
		return
	}
	p, _ := principal(r.Context())
	id := requestID(r.Context())
	res, err := s.cfg.Store().Commit(r.Context(), plan, config.Origin{Actor: p.Email, RequestID: id, ClientIP: clientIP(r)})
	keys := make([]string, 0, len(plan.Changes))
	for _, c := range plan.Changes {
		keys = append(keys, c.Key)
	}
	sort.Strings(keys)
	s.track(r, action, err, "config.keys", strings.Join(keys, ","), "config.change_id", id)
	if err != nil {
		s.codeFail(w, r, err)
		return
	}
	s.reload(r)
	out.Applied, out.ChangeID, out.Revision = true, id, res.Revision
	w.Header().Set("ETag", revisionTag(res.Revision))
	writeJSON(w, http.StatusOK, out)
}

// codeFail answers a refused document or plan: its sentence for invalid
// input (never a 500), the store's own refusals otherwise.
func (s *Server) codeFail(w http.ResponseWriter, r *http.Request, err error) {
	var be *config.BatchError
	var rc *config.RevisionConflictError
	switch {
	case errors.As(err, &rc):
		writeError(w, http.StatusConflict, "the configuration changed while the plan was made; nothing was changed, run it again",
			map[string]any{"current_revision": rc.Current})
	case errors.As(err, &be):
		s.configFail(w, r, err)
	case errors.Is(err, config.ErrInvalid):
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), config.ErrInvalid.Error()+": ")+"; nothing was changed", nil)
	default:
		s.configFail(w, r, err)
	}
}

// configSchema is the JSON Schema of every declared key.
func (s *Server) configSchema(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "no-cache")
	b, err := json.MarshalIndent(config.Schema(s.cfg.Registry()), "", "  ")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_, _ = w.Write(append(b, '\n'))
}

// eventChange is one key of a streamed change, its values as anyone may
// see them.
type eventChange struct {
	Key string `json:"key"`
	Old string `json:"old"`
	New string `json:"new"`
}

// configEvent is the data of a config event: the revision it brings the
// client to, and for "change" which keys changed and how.
type configEvent struct {
	Revision int64         `json:"revision"`
	Keys     []string      `json:"keys,omitempty"`
	Changes  []eventChange `json:"changes,omitempty"`
}

// eventBuffer bounds the changes waiting for a slow client; past it the
// client is told to reload instead.
const eventBuffer = 64

// eventKeepalive keeps proxies from closing a quiet stream.
const eventKeepalive = 25 * time.Second

// configEvents streams committed configuration changes as Server-Sent
// Events: one "change" event per new snapshot, whichever replica made the
// change (the snapshot follows LISTEN/NOTIFY or the revision poll). A
// client too slow to keep up gets one "resync" event and should reload.
func (s *Server) configEvents(w http.ResponseWriter, r *http.Request) {
	type event struct {
		name string
		data any
	}
	ch := make(chan event, eventBuffer)
	overflow := make(chan struct{}, 1)
	cancel := s.cfg.Subscribe(func(c config.Change) {
		changes := make([]eventChange, 0, len(c.Keys))
		for _, k := range c.Keys {
			ec := eventChange{Key: k}
			if v, ok := c.Old.Get(k); ok {
				ec.Old = v.Shown()
			}
			if v, ok := c.New.Get(k); ok {
				ec.New = v.Shown()
			}
			changes = append(changes, ec)
		}
		ev := event{"change", configEvent{Revision: c.New.Revision, Keys: c.Keys, Changes: changes}}
		// Never block the reloading goroutine on a client.
		select {
		case ch <- ev:
		default:
			select {
			case overflow <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(name string, v any) bool {
		b, _ := json.Marshal(v)
		if _, err := io.WriteString(w, "event: "+name+"\ndata: "+string(b)+"\n\n"); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The first event says where the client starts, so it can tell a
	// change it already has from one it missed.
	if !send("ready", configEvent{Revision: s.cfg.Snapshot().Revision}) {
		return
	}
	tick := time.NewTicker(eventKeepalive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-ch:
			if !send(ev.name, ev.data) {
				return
			}
		case <-overflow:
			if !send("resync", configEvent{Revision: s.cfg.Snapshot().Revision}) {
				return
			}
		case <-tick.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}
