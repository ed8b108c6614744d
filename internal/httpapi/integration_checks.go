package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/neterr"
)

// IntegrationTest is the answer of POST /api/v1/integrations/{name}/test:
// the test ran, and OK says how it went. Message is a sentence about the
// outcome; Detail is the technical detail (the error chain), never a secret.
type IntegrationTest struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Detail  string `json:"detail"`
}

// IntegrationTests runs one connection test per outside service, by the
// name in the route.
type IntegrationTests map[string]func(context.Context) IntegrationTest

// integrationTestTimeout bounds one test; each test bounds its own calls
// more tightly and says which one did not answer.
const integrationTestTimeout = 20 * time.Second

func (s *Server) integrationCheckRoutes(tests IntegrationTests) {
	if len(tests) > 0 {
		names := make([]string, 0, len(tests))
		for name := range tests {
			names = append(names, name)
		}
		slices.Sort(names)
		s.mux.Handle("POST /api/v1/integrations/{name}/test", s.require(auth.Admin, func(w http.ResponseWriter, r *http.Request) {
			test, ok := tests[r.PathValue("name")]
			if !ok {
				writeError(w, http.StatusNotFound, "There is no integration by that name to test; use one of "+strings.Join(names, ", ")+".", nil)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), integrationTestTimeout)
			defer cancel()
			writeJSON(w, http.StatusOK, test(ctx))
		}))
	}
	s.mux.Handle("GET /api/v1/ai/gateway", s.require(auth.Viewer, s.aiGateway))
}

// aiGatewayAnswer is GET /api/v1/ai/gateway: whether the AI gateway can
// take a request now, so the AI page says so before anyone types.
type aiGatewayAnswer struct {
	Configured bool   `json:"configured"`
	Reachable  bool   `json:"reachable"`
	Message    string `json:"message"`
	// Detail is the technical reason, for admins only.
	Detail string `json:"detail,omitempty"`
}

// aiGatewayTimeout is how long the AI page waits to learn whether the
// gateway answers.
const aiGatewayTimeout = 3 * time.Second

func (s *Server) aiGateway(w http.ResponseWriter, r *http.Request) {
	var out aiGatewayAnswer
	switch {
	case s.ai == nil:
		out.Message = "The AI gateway is not configured, so analysis and generation cannot run. An admin sets waddleai_url and waddleai_api_key in Settings."
	case s.keys.WaddleAI.URL.Get() == "":
		out.Message = "The AI gateway has no address (waddleai_url), so analysis and generation cannot run. An admin sets it in Settings."
	case s.keys.WaddleAI.APIKey.Get().IsZero():
		out.Message = "The AI gateway has no API key (waddleai_api_key), so it will refuse every request. An admin sets it in Settings."
	default:
		out.Configured = true
		ctx, cancel := context.WithTimeout(r.Context(), aiGatewayTimeout)
		err := s.ai.client.Health(ctx)
		cancel()
		if err == nil {
			out.Reachable = true
			out.Message = "The AI gateway is reachable."
			break
		}
		out.Message = "The AI gateway cannot be reached right now, so analysis and generation will fail until it is back."
		if why := neterr.Reason(err); why != "" {
			out.Message = "The AI gateway cannot be reached right now (" + why + "), so analysis and generation will fail until it is back."
		}
		if p, ok := principal(r.Context()); ok && p.Role == auth.Admin {
			out.Detail = err.Error()
		}
	}
	writeJSON(w, http.StatusOK, out)
}
