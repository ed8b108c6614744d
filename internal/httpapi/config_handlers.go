package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rookery/rookery/config"
)

// configView is the seed's shape plus what a careful client needs.
type configView struct {
	Key         string          `json:"key"`
	Value       string          `json:"value"`
	Type        config.Type     `json:"type"`
	Category    config.Category `json:"category"`
	Description string          `json:"description"`
	IsSensitive bool            `json:"is_sensitive"`
	IsSet       bool            `json:"is_set"`
	// Source is where the value in force came from: "environment" also
	// for a value copied from the variable at first start and unchanged
	// since. EnvDiffers: the variable is set to something else, ignored.
	Source      config.Source       `json:"source"`
	EnvDiffers  bool                `json:"env_differs"`
	Rule        string              `json:"rule,omitempty"`
	Constraints *config.Constraints `json:"constraints,omitempty"`
	Default     string              `json:"default,omitempty"`
	Version     int64               `json:"version"`
	LastUpdated *time.Time          `json:"last_updated"`
	UpdatedBy   *string             `json:"updated_by"`
	CreatedAt   *time.Time          `json:"created_at"`
	// Unreadable marks a stored value that cannot be decrypted: Value and
	// Source are then the fallback's, and Problem says what to do.
	Unreadable bool   `json:"unreadable,omitempty"`
	Problem    string `json:"problem,omitempty"`
}

func view(v *config.Value) configView {
	out := configView{Key: v.Key.Name, Value: v.Shown(), Type: v.Key.Type, Category: v.Key.Category,
		Description: v.Key.Description, IsSensitive: v.Key.Sensitive, IsSet: v.Text != "", Source: v.Source}
	p := v.Provenance()
	out.Source, out.EnvDiffers = p.Source, p.EnvDiffers
	if v.Key.Rule != nil {
		out.Rule = v.Key.Rule.Describe()
		out.Constraints = v.Key.Constraints()
	}
	if !v.Key.Sensitive {
		out.Default = v.Key.Default
	}
	if e := v.Entry; e != nil {
		out.Version = e.Version
		lu, ca, by := e.LastUpdated, e.CreatedAt, e.UpdatedBy
		out.LastUpdated, out.CreatedAt, out.UpdatedBy = &lu, &ca, &by
	}
	if v.Unreadable() {
		inUse := "the " + string(v.Source) + " value is in use"
		if v.Source == config.FromDatabase { // an undeclared key: nothing to fall back on
			inUse = "it has no value"
		}
		out.Unreadable = true
		out.Problem = "The stored value cannot be decrypted with the configured encryption keys, so " + inUse +
			". Save a new value, or give the old key in CONFIG_ENCRYPTION_OLD_KEYS and restart, or remove it with: rookery config delete " +
			v.Key.Name + " --force"
	}
	return out
}

func etag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

// ifMatch turns an If-Match header into a store precondition.
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return config.AnyVersion, nil
	}
	first, _, _ := strings.Cut(h, ",")
	tag := strings.Trim(strings.TrimPrefix(strings.TrimSpace(first), "W/"), `"`)
	n, err := strconv.ParseInt(strings.TrimPrefix(tag, "v"), 10, 64)
	if !strings.HasPrefix(tag, "v") || err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, `If-Match must be an ETag this API returned, such as "v3"`)
	}
	return n, nil
}

// lookup finds a key in the snapshot: declared keys always, undeclared
// ones when stored.
func (s *Server) lookup(key string) (*config.Value, bool) {
	snap := s.cfg.Snapshot()
	if v, ok := snap.Get(key); ok {
		return v, true
	}
	for _, v := range snap.All(s.cfg.Registry()) {
		if v.Key.Name == key {
			return v, true
		}
	}
	return nil, false
}

func (s *Server) listConfig(w http.ResponseWriter, r *http.Request) {
	cat := config.Category(r.URL.Query().Get("category"))
	if cat != "" && !config.ValidCategory(cat) {
		writeError(w, http.StatusBadRequest, "unknown category; use one of integration, email, security, database, system, license", nil)
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if cat == "" && q == "" {
		// The unfiltered list, the one clients poll, is encoded once per snapshot.
		e := s.encodedConfig()
		writeEncoded(w, e.listTag, e.list)
		return
	}
	snap := s.cfg.Snapshot()
	all := snap.All(s.cfg.Registry())
	out := make([]configView, 0, len(all))
	for _, v := range all {
		if cat != "" && v.Key.Category != cat {
			continue
		}
		if q != "" && !strings.Contains(v.Key.Name, q) && !strings.Contains(strings.ToLower(v.Key.Description), q) {
			continue
		}
		out = append(out, view(v))
	}
	// Grouped by category as the standards' listing orders them.
	sortByCategory(out)
	// The revision is what If-Match on PATCH /api/v1/config carries.
	w.Header().Set("ETag", revisionTag(snap.Revision))
	writeJSON(w, http.StatusOK, listBody(out, snap.Revision))
}

func listBody(out []configView, rev int64) configListAnswer {
	return configListAnswer{Configs: out, Total: len(out), Revision: rev}
}

// configCache holds the encoded answers of the latest snapshot seen.
type configCache struct {
	cur atomic.Pointer[encodedSnapshot]
}

// encodedSnapshot is the JSON of GET /api/v1/config and of every
// GET /api/v1/config/{key}, encoded once for one immutable snapshot: a
// read is then a map lookup and a write, whatever the number of keys.
type encodedSnapshot struct {
	snap    *config.Snapshot
	list    []byte
	listTag string
	keys    map[string]encodedKey
}

type encodedKey struct {
	body []byte
	tag  string
}

// encodedConfig returns the encoded answers of the current snapshot,
// building them on the first read after a change. Two readers racing on a
// new snapshot may both build it; the answers are the same.
func (s *Server) encodedConfig() *encodedSnapshot {
	snap := s.cfg.Snapshot()
	if e := s.cfgCache.cur.Load(); e != nil && e.snap == snap {
		return e
	}
	all := snap.All(s.cfg.Registry())
	e := &encodedSnapshot{snap: snap, listTag: revisionTag(snap.Revision), keys: make(map[string]encodedKey, len(all))}
	views := make([]configView, 0, len(all))
	for _, v := range all {
		vw := view(v)
		views = append(views, vw)
		e.keys[vw.Key] = encodedKey{body: encodeJSON(vw), tag: etag(vw.Version)}
	}
	sortByCategory(views)
	e.list = encodeJSON(listBody(views, snap.Revision))
	s.cfgCache.cur.Store(e)
	return e
}

// encodeJSON is what writeJSON sends for v.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
	return b.Bytes()
}

// writeEncoded sends a body encodeJSON built, with the headers writeJSON
// and the handlers set.
func writeEncoded(w http.ResponseWriter, tag string, body []byte) {
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Content-Type", "application/json; charset=utf-8")
	// The length is known: the answer goes out in one piece rather than
	// chunked (compress drops it when it gzips).
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func sortByCategory(vs []configView) {
	rank := map[config.Category]int{}
	for i, c := range config.Categories() {
		rank[c] = i
	}
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0; j-- {
			a, b := vs[j-1], vs[j]
			if rank[a.Category] < rank[b.Category] || rank[a.Category] == rank[b.Category] && a.Key <= b.Key {
				break
			}
			vs[j-1], vs[j] = b, a
		}
	}
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	k, ok := s.encodedConfig().keys[r.PathValue("key")]
	if !ok {
		writeError(w, http.StatusNotFound, "Configuration not found", nil)
		return
	}
	writeEncoded(w, k.tag, k.body)
}

// valueText turns the JSON "value" into the text the store validates:
// strings as they are, numbers and booleans as written, objects and arrays
// only for json keys.
func valueText(raw json.RawMessage, t config.Type) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", errorf(http.StatusBadRequest, "Value is required")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errorf(http.StatusBadRequest, "value is not a valid JSON string")
		}
		return s, nil
	case '{', '[':
		if t != config.TypeJSON {
			return "", errorf(http.StatusBadRequest, "value must be a %s, not an object or array", t)
		}
		return string(raw), nil
	}
	return string(raw), nil // number, true, false: their text
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	key := r.PathValue("key")
	cur, ok := s.lookup(key)
	if !ok {
		writeError(w, http.StatusNotFound, "Configuration not found", nil)
		return
	}
	var body configPutRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	text, err := valueText(body.Value, cur.Key.Type)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	want, err := ifMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, _ := principal(r.Context())
	e, err := s.cfg.Store().Set(r.Context(), key, text, want, config.Origin{Actor: p.Email, RequestID: requestID(r.Context()), ClientIP: clientIP(r)})
	s.track(r, "config_update", err, "config.key", key, "config.version", e.Version)
	if err != nil {
		s.configFail(w, r, err)
		return
	}
	s.reload(r)
	v, _ := s.lookup(key)
	vw := view(v)
	if vw.Version != e.Version { // the reload lost a race with the database; answer from the write
		vw = view(&config.Value{Key: cur.Key, Text: e.Value, Source: config.FromDatabase, Entry: &e})
	}
	w.Header().Set("ETag", etag(e.Version))
	writeJSON(w, http.StatusOK, configUpdatedAnswer{Message: "Configuration updated successfully", Key: key, UpdatedBy: p.Email, Config: vw})
}

func (s *Server) deleteConfig(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	key := r.PathValue("key")
	want, err := ifMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, _ := principal(r.Context())
	err = s.cfg.Store().Delete(r.Context(), key, want, config.Origin{Actor: p.Email, RequestID: requestID(r.Context()), ClientIP: clientIP(r)})
	s.track(r, "config_delete", err, "config.key", key)
	if err != nil {
		s.configFail(w, r, err)
		return
	}
	s.reload(r)
	writeJSON(w, http.StatusOK, configDeletedAnswer{Message: "Configuration deleted successfully", Key: key})
}

// configFail answers the config store's own refusals, then leaves the
// rest to the one mapper (fail).
func (s *Server) configFail(w http.ResponseWriter, r *http.Request, err error) {
	var re *config.SecretReentryError
	var ue *config.UnreadableError
	var be *config.BatchError
	var rc *config.RevisionConflictError
	switch {
	case errors.As(err, &re):
		writeError(w, http.StatusConflict, "secret_reentry_required", map[string]any{
			"keys":    re.Secrets,
			"changed": re.Changed,
			"message": fmt.Sprintf("Changing %s would send %s to a new place. Send %s again in the same request "+
				"(PATCH /api/v1/config with all of them in \"values\").",
				strings.Join(re.Changed, ", "), strings.Join(re.Secrets, ", "), strings.Join(re.Secrets, ", ")),
		})
	case errors.As(err, &ue):
		writeError(w, http.StatusConflict, "The stored value of "+ue.Key+" cannot be decrypted with the configured encryption keys. "+
			"Save a new value with PUT, or remove it with: rookery config delete "+ue.Key+" --force",
			map[string]any{"key": ue.Key, "unreadable": true})
	case errors.As(err, &be):
		writeError(w, http.StatusBadRequest, refusedMessage(be.Problems), map[string]any{"keys": be.Keys(), "problems": be.Problems})
	case errors.As(err, &rc):
		writeError(w, http.StatusPreconditionFailed, "the configuration was changed by someone else; reload it and try again; nothing was changed",
			map[string]any{"current_revision": rc.Current})
	default:
		s.fail(w, r, err)
	}
}

// refusedMessage is the sentence of a 400 that lists refused keys.
func refusedMessage(problems map[string]string) string {
	if len(problems) == 1 {
		for k, why := range problems {
			return "invalid value: " + k + " " + why + "; nothing was changed"
		}
	}
	return fmt.Sprintf("%d settings were refused (see problems); nothing was changed", len(problems))
}

// dbTimeout bounds the database work of one config request: when the
// database stops answering (a partition, a frozen server) the client gets
// a 503 in seconds instead of waiting on the driver indefinitely.
const dbTimeout = 5 * time.Second

func withDBTimeout(r *http.Request) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	return r.WithContext(ctx), cancel
}

// reload brings the local snapshot up to date after a write, so the
// change applies here at once; other replicas follow through the watcher.
func (s *Server) reload(r *http.Request) {
	if err := s.cfg.Reload(r.Context()); err != nil {
		s.logger(r).Warn("config reload after write failed; the watcher will retry", "error", err.Error())
	}
}

func (s *Server) configHistory(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	key := r.PathValue("key")
	if _, ok := s.lookup(key); !ok {
		writeError(w, http.StatusNotFound, "Configuration not found", nil)
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h, err := s.cfg.Store().History(r.Context(), key, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if h == nil {
		h = []config.AuditRecord{}
	}
	writeJSON(w, http.StatusOK, configHistoryAnswer{Key: key, History: h})
}

// auditLog lists the most recent configuration changes across all keys.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	limit, err := limitParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h, err := s.cfg.Store().Recent(r.Context(), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if h == nil {
		h = []config.AuditRecord{}
	}
	writeJSON(w, http.StatusOK, auditAnswer{Audit: h})
}

// limitParam reads ?limit= (1-1000, default 100).
func limitParam(r *http.Request) (int, error) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > 1000 {
		return 0, errorf(http.StatusBadRequest, "limit must be a whole number between 1 and 1000")
	}
	return n, nil
}
