package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rookery/rookery/internal/db"
)

// ErrStarting is what a readiness check returns while the server is not
// yet in step with the database (on PostgreSQL: until it listens for
// changes and has re-read the configuration since).
var ErrStarting = errors.New("the server is still starting")

// HealthChecker is a Pinger that knows more than "the database answers":
// when Deps.DB implements it, /readyz asks Health instead of pinging.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// damagedMessage is what a client is told about a damaged database: not
// "try again", which would not help, but what an operator must do.
const damagedMessage = "the database is damaged; nothing more can be served from it until an operator runs `rookery db check` and restores it from a backup"

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var err error
	if h, ok := s.db.(HealthChecker); ok {
		err = h.Health(ctx)
	} else {
		err = s.db.PingContext(ctx)
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, readyAnswer{Status: "ready", Database: "ok"})
	case db.IsDamaged(err):
		// The file name stays in the server log: this route is public.
		s.log.Error("readiness: the database is damaged", "error", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, readyAnswer{Status: "unavailable", Database: "damaged", Error: damagedMessage})
	case errors.Is(err, ErrStarting):
		writeJSON(w, http.StatusServiceUnavailable, readyAnswer{Status: "starting", Database: "ok"})
	default:
		writeJSON(w, http.StatusServiceUnavailable, readyAnswer{Status: "unavailable", Database: "unreachable"})
	}
}
