package httpapi

import "net/http"

// patchConfig changes several keys in one transaction.
func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "not implemented yet", nil)
}
