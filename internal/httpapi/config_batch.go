package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/rookery/rookery/config"
)

// revisionTag is the ETag of the whole configuration at revision rev.
func revisionTag(rev int64) string { return `"r` + strconv.FormatInt(rev, 10) + `"` }

// revisionMatch turns an If-Match header on PATCH /api/v1/config into the
// whole-config revision it expects: the revision GET /api/v1/config
// returns, as "r12" (its ETag), "12" or 12.
func revisionMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return config.AnyRevision, nil
	}
	first, _, _ := strings.Cut(h, ",")
	tag := strings.Trim(strings.TrimPrefix(strings.TrimSpace(first), "W/"), `"`)
	n, err := strconv.ParseInt(strings.TrimPrefix(tag, "r"), 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, `If-Match must be the configuration revision that GET /api/v1/config returns, such as "r12"`)
	}
	return n, nil
}

// patchConfig changes several keys in one transaction:
// {"values": {"key": value, "other": null}}, null removing the stored
// value. Every key is checked first and every refusal reported at once;
// then all are applied together, or none.
func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request) {
	r, cancel := withDBTimeout(r)
	defer cancel()
	var body configPatchRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(body.Values) == 0 {
		writeError(w, http.StatusBadRequest, `send {"values": {"key": value, ...}}; a null value removes the stored value`, nil)
		return
	}
	want, err := revisionMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	edits := make([]config.Edit, 0, len(body.Values))
	problems := map[string]string{}
	for key, raw := range body.Values {
		if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
			edits = append(edits, config.Edit{Key: key, Remove: true})
			continue
		}
		cur, ok := s.lookup(key)
		if !ok {
			problems[key] = "is not a known setting"
			continue
		}
		text, err := valueText(raw, cur.Key.Type)
		if err != nil {
			// valueText speaks of "value"; here the key names it.
			problems[key] = strings.TrimPrefix(err.Error(), "value ")
			continue
		}
		edits = append(edits, config.Edit{Key: key, Value: text})
	}
	if len(problems) > 0 {
		// Report the store's refusals of the other keys too, so one round
		// trip shows every problem.
		if len(edits) > 0 {
			more, err := s.cfg.Store().Validate(r.Context(), edits)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			for k, why := range more {
				problems[k] = why
			}
		}
		s.configFail(w, r, &config.BatchError{Problems: problems})
		return
	}
	p, _ := principal(r.Context())
	res, err := s.cfg.Store().Apply(r.Context(), edits, want, config.Origin{Actor: p.Email, RequestID: requestID(r.Context()), ClientIP: clientIP(r)})
	keys := make([]string, 0, len(edits))
	for _, e := range edits {
		keys = append(keys, e.Key)
	}
	sort.Strings(keys)
	s.track(r, "config_batch_update", err, "config.keys", strings.Join(keys, ","), "config.revision", res.Revision)
	if err != nil {
		var be *config.BatchError
		if errors.As(err, &be) || !errors.Is(err, config.ErrInvalid) {
			s.configFail(w, r, err)
			return
		}
		writeError(w, http.StatusBadRequest, "nothing was changed: "+err.Error(), nil)
		return
	}
	if len(res.Applied) > 0 {
		s.reload(r)
	}
	out := make([]configChanged, 0, len(res.Applied))
	for _, a := range res.Applied {
		out = append(out, configChanged{Key: a.Key, Version: a.Entry.Version, Removed: a.Removed})
	}
	w.Header().Set("ETag", revisionTag(res.Revision))
	writeJSON(w, http.StatusOK, configPatchAnswer{Message: "Configuration updated successfully", Changed: out, Revision: res.Revision, UpdatedBy: p.Email})
}
