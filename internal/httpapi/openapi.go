package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/sso"
	"github.com/rookery/rookery/license"
)

// The API document (OpenAPI 3.1) is built from the route declarations
// below and the Go types the handlers read and answer; nothing of it is
// written by hand. docs/openapi.json is its committed copy, regenerated
// with `go run ./internal/httpapi/openapigen > docs/openapi.json`; a test
// fails when the copy is stale, and another when the server registers a
// route that is not declared here (or the reverse).

// OpenAPIPath is where the server serves its API document.
const OpenAPIPath = "/api/v1/openapi.json"

// apiRoute declares one route of the API for its document.
type apiRoute struct {
	// Pattern is the ServeMux pattern the route is registered under.
	Pattern     string
	Tag         string
	Summary     string
	Description string
	// Role is the least role a caller needs; empty lets anyone in.
	Role auth.Role
	// Feature is the licence feature the route needs.
	Feature string
	// FeatureAtLogin: without Feature the browser is sent to the login
	// page with a reason (a single sign-on route), not answered 403.
	FeatureAtLogin bool
	Params         []apiParam
	// Request is the body the route reads, nil for none; a value other
	// than the zero value is also the document's example.
	Request any
	// RequestType is the body's content type, application/json unless set.
	RequestType string
	Responses   []apiResponse
}

// apiParam is a path, query or header parameter.
type apiParam struct {
	Name, In, Description string
	// Type is string (the default), integer or boolean.
	Type     string
	Enum     []string
	Required bool
}

// apiResponse is one answer of a route. Two answers with one status are
// two content types of it.
type apiResponse struct {
	Status      int
	Description string
	// Body is a value of the answer's Go type (nil for an error status: the
	// Error schema); ContentType is application/json unless set.
	Body        any
	ContentType string
	// Text marks a body that is not JSON (a string in the document).
	Text bool
	// Redirect marks a 302 whose Location is the answer.
	Redirect bool
	// Events are the Server-Sent Events of a text/event-stream answer: the
	// Go type of each event's data, by event name.
	Events map[string]any
}

func ok(status int, body any) apiResponse { return apiResponse{Status: status, Body: body} }

// fails lists error answers of a route.
func fails(statuses ...int) []apiResponse {
	out := make([]apiResponse, 0, len(statuses))
	for _, s := range statuses {
		out = append(out, apiResponse{Status: s})
	}
	return out
}

func answers(rs ...any) []apiResponse {
	var out []apiResponse
	for _, r := range rs {
		switch v := r.(type) {
		case apiResponse:
			out = append(out, v)
		case []apiResponse:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("openapi: %T is not an answer", r))
		}
	}
	return out
}

var (
	idPath        = apiParam{Name: "id", In: "path", Type: "integer", Required: true}
	keyPath       = apiParam{Name: "key", In: "path", Required: true, Description: "The setting's key, such as smtp_host."}
	limitQuery    = apiParam{Name: "limit", In: "query", Type: "integer", Description: "At most this many records (1-1000, default 100)."}
	categoryQuery = apiParam{Name: "category", In: "query", Enum: categoryNames(), Description: "Only this category."}
	nextQuery     = apiParam{Name: "next", In: "query", Description: "The page to return to once signed in (a path of this site)."}
	ifMatchRev    = apiParam{Name: "If-Match", In: "header",
		Description: `The configuration revision the change expects, as GET /api/v1/config's ETag ("r12"); a 412 answers a configuration that moved on.`}
	ifMatchVersion = apiParam{Name: "If-Match", In: "header",
		Description: `The setting's version the change expects, as its ETag ("v3"); a 412 answers a setting that moved on.`}
)

// apiRoutes declares every route rookery's own server registers.
func apiRoutes() []apiRoute {
	const (
		bad, unauthorized, forbidden, notFound, conflict = 400, 401, 403, 404, 409
		precondition, tooLarge, mediaType, tooMany       = 412, 413, 415, 429
		internal, badGateway, unavailable, timeout       = 500, 502, 503, 504
	)
	body := []int{bad, tooLarge, mediaType} // refusals of any JSON body
	ai := answers(fails(append(body, 422, tooMany, badGateway, timeout)...))
	return []apiRoute{
		{Pattern: "GET /healthz", Tag: "health", Summary: "Liveness: the process answers",
			Responses: answers(ok(200, statusAnswer{Status: "ok"}))},
		{Pattern: "GET /readyz", Tag: "health", Summary: "Readiness: the database answers and the server is in step with it",
			Responses: answers(ok(200, readyAnswer{Status: "ready", Database: "ok"}),
				apiResponse{Status: 503, Body: readyAnswer{}, Description: "Not ready: starting, or the database is unreachable or damaged"})},
		{Pattern: "GET /metrics", Tag: "health", Summary: "Prometheus metrics",
			Responses: answers(apiResponse{Status: 200, Text: true, ContentType: "text/plain"})},
		{Pattern: "GET " + OpenAPIPath, Tag: "health", Summary: "This API document (OpenAPI 3.1)",
			Responses: answers(apiResponse{Status: 200, Body: map[string]any{}})},

		{Pattern: "POST /api/v1/auth/login", Tag: "auth", Summary: "Sign in with email and password",
			Description: "Answers a session token (also set as the session cookie). Failed attempts are counted per account and per client address; past login_max_attempts the answer is 429 with Retry-After.",
			Request:     loginRequest{Email: "admin@example.com", Password: "correct horse battery staple"},
			Responses:   answers(ok(200, exampleLogin()), fails(append(body, unauthorized, forbidden, tooMany, unavailable)...))},
		{Pattern: "GET /api/v1/auth/providers", Tag: "auth", Summary: "The sign-in methods the login page offers",
			Description: "A single sign-on method that is switched off, or whose licence feature is missing, is null; password is false when local_login_enabled is off.",
			Responses:   answers(ok(200, providersAnswer{Password: true, OIDC: &ssoProvider{Label: "Sign in with SSO", LoginURL: "/api/v1/auth/oidc/login"}}))},
		{Pattern: "GET /api/v1/auth/oidc/login", Tag: "auth", Summary: "Start an OpenID Connect sign-in", Feature: sso.FeatureOIDC, FeatureAtLogin: true,
			Description: "Throttled per client address: past " + strconv.Itoa(ssoStartsPerAddress) + " sign-ins started and not finished, the browser is sent to /login?sso_error=<reason> until the address has waited.",
			Params:      []apiParam{nextQuery},
			Responses: answers(apiResponse{Status: 302, Redirect: true,
				Description: "To the identity provider; on failure to /login?sso_error=<reason>"})},
		{Pattern: "GET " + sso.CallbackPath, Tag: "auth", Summary: "Where the OpenID Connect provider sends the browser back", Feature: sso.FeatureOIDC, FeatureAtLogin: true,
			Description: "Signs the browser in (the session cookie) when the provider's answer checks out.",
			Params: []apiParam{{Name: "code", In: "query"}, {Name: "state", In: "query"}, {Name: "error", In: "query"},
				{Name: "error_description", In: "query"}},
			Responses: answers(apiResponse{Status: 302, Redirect: true,
				Description: "Signed in, to the page the sign-in started from; on failure to /login?sso_error=<reason>"})},
		{Pattern: "GET " + sso.SAMLMetadataPath, Tag: "auth", Summary: "This service provider's SAML metadata, for the identity provider", Feature: sso.FeatureSAML,
			Responses: answers(apiResponse{Status: 200, Text: true, ContentType: "application/samlmetadata+xml"},
				apiResponse{Status: 503, Description: "SAML is not set up on this server (the reason says what is missing)"})},
		{Pattern: "GET /api/v1/auth/saml/login", Tag: "auth", Summary: "Start a SAML sign-in", Feature: sso.FeatureSAML, FeatureAtLogin: true,
			Description: "Throttled per client address: past " + strconv.Itoa(ssoStartsPerAddress) + " sign-ins started and not finished, the browser is sent to /login?sso_error=<reason> until the address has waited.",
			Params:      []apiParam{nextQuery},
			Responses: answers(apiResponse{Status: 302, Redirect: true,
				Description: "To the identity provider; on failure to /login?sso_error=<reason>"})},
		{Pattern: "POST " + sso.SAMLACSPath, Tag: "auth", Summary: "Where the identity provider posts its SAML answer", Feature: sso.FeatureSAML, FeatureAtLogin: true,
			Description: "Signs the browser in (the session cookie) when the signed answer checks out.",
			Request:     samlACSForm{}, RequestType: "application/x-www-form-urlencoded",
			Responses: answers(apiResponse{Status: 302, Redirect: true,
				Description: "Signed in, to the page the sign-in started from; on failure to /login?sso_error=<reason>"})},
		{Pattern: "POST /api/v1/auth/logout", Tag: "auth", Summary: "End this session", Role: auth.Viewer,
			Responses: answers(ok(200, messageAnswer{Message: "Signed out"}))},
		{Pattern: "GET /api/v1/auth/me", Tag: "auth", Summary: "Who is signed in", Role: auth.Viewer,
			Responses: answers(ok(200, exampleMe()))},
		{Pattern: "POST /api/v1/auth/password", Tag: "auth", Summary: "Change one's own password",
			Description: "Other sessions end and the user's API keys are revoked; this session stays.", Role: auth.Viewer,
			Request:   passwordChangeRequest{Current: "old password", New: "a new long password"},
			Responses: answers(ok(200, messageAnswer{}), fails(append(body, tooMany)...))},

		{Pattern: "POST /api/v1/auth/password/forgot", Tag: "auth", Summary: "Email a password reset link",
			Description: "Always 202, at once, whether or not the address has an account (the account is looked up after the answer); an enabled password account gets a link to /reset?token=..., valid one hour. Throttled like sign-in.",
			Request:     forgotRequest{Email: "ops@example.com"},
			Responses:   answers(ok(202, statusAnswer{Status: "accepted"}), fails(append(body, tooMany)...))},
		{Pattern: "GET /api/v1/auth/password/reset", Tag: "auth", Summary: "Whose a reset or invitation link is, without using it",
			Params:    []apiParam{{Name: "token", In: "query", Required: true, Description: "The token of the emailed link."}},
			Responses: answers(ok(200, auth.TokenInfo{}), fails(bad))},
		{Pattern: "POST /api/v1/auth/password/reset", Tag: "auth", Summary: "Choose a password with a reset or invitation link",
			Description: "The link works once. The account stops being invited, all its sessions end and its API keys are revoked. Throttled per client address.",
			Request:     resetRequest{Token: "the token of the link", Password: "a new long password"},
			Responses:   answers(apiResponse{Status: 204, Description: "The password is set"}, fails(append(body, forbidden, tooMany)...))},
		{Pattern: "POST /api/v1/email/test", Tag: "email", Summary: "Send a test email now", Role: auth.Admin,
			Description: "With the stored smtp_* settings overlaid by the unsaved ones given. 502 when the server did not take the message, with a reason a person can act on.",
			Request:     emailTestRequest{To: "ops@example.com", Settings: map[string]json.RawMessage{"smtp_port": json.RawMessage(`2525`)}},
			Responses:   answers(ok(200, emailTestAnswer{}), apiResponse{Status: 502, Body: emailTestFailure{}}, fails(body...))},
		{Pattern: "GET /api/v1/email/outbox", Tag: "email", Summary: "The latest emails and their delivery, without bodies", Role: auth.Admin,
			Responses: answers(ok(200, outboxAnswer{}))},
		{Pattern: "POST /api/v1/users/{id}/invitation", Tag: "users", Summary: "Email an invited user a new invitation link", Role: auth.Admin,
			Description: "The earlier links stop working. 400 when the user is not invited.",
			Params:      []apiParam{idPath}, Responses: answers(ok(202, statusAnswer{Status: "queued"}), fails(bad, notFound))},
		{Pattern: "POST /api/v1/users/{id}/password-reset", Tag: "users", Summary: "Email a user a password reset link", Role: auth.Admin,
			Description: "400 for single sign-on, invited and disabled accounts, with the reason.",
			Params:      []apiParam{idPath}, Responses: answers(ok(202, statusAnswer{Status: "queued"}), fails(bad, notFound))},

		{Pattern: "GET /api/v1/users", Tag: "users", Summary: "List users", Role: auth.Admin,
			Responses: answers(ok(200, usersAnswer{Users: []userView{exampleUser()}, Total: 1}))},
		{Pattern: "POST /api/v1/users", Tag: "users", Summary: "Create a user", Role: auth.Admin,
			Description: "403 when the licence's user limit is reached.",
			Request:     createUserRequest{Email: "ops@example.com", Password: "a long password", Role: "maintainer"},
			Responses:   answers(ok(201, userAnswer{User: exampleUser()}), fails(append(body, conflict)...))},
		{Pattern: "PATCH /api/v1/users/{id}", Tag: "users", Summary: "Change a user's role, password or disabled state", Role: auth.Admin,
			Params: []apiParam{idPath}, Request: updateUserRequest{Role: ptr("admin")},
			Responses: answers(ok(200, userAnswer{}), fails(append(body, notFound, conflict)...))},
		{Pattern: "DELETE /api/v1/users/{id}", Tag: "users", Summary: "Delete a user, their sessions, API keys and team memberships", Role: auth.Admin,
			Params: []apiParam{idPath}, Responses: answers(ok(200, userDeletedAnswer{}), fails(bad, notFound))},

		{Pattern: "GET /api/v1/config", Tag: "config", Summary: "List the settings", Role: auth.Admin,
			Description: "Sensitive values are masked. The ETag is the configuration revision, for If-Match on PATCH.",
			Params:      []apiParam{categoryQuery, {Name: "q", In: "query", Description: "Only keys or descriptions containing this text."}},
			Responses:   answers(ok(200, exampleConfigList()), fails(bad))},
		{Pattern: "PATCH /api/v1/config", Tag: "config", Summary: "Change several settings in one transaction", Role: auth.Admin,
			Description: "Every key is checked first and every refusal reported at once (400 with problems); then all are applied, or none. A null value removes the stored value.",
			Params:      []apiParam{ifMatchRev},
			Request:     configPatchRequest{Values: map[string]json.RawMessage{"smtp_host": json.RawMessage(`"mail.example.com"`), "smtp_port": json.RawMessage(`587`)}},
			Responses:   answers(ok(200, exampleConfigPatched()), fails(append(body, conflict, precondition)...))},
		{Pattern: "GET /api/v1/config/{key}", Tag: "config", Summary: "One setting", Role: auth.Admin,
			Description: "The ETag is the setting's version, for If-Match on PUT and DELETE.",
			Params:      []apiParam{keyPath}, Responses: answers(ok(200, exampleConfig()), fails(notFound))},
		{Pattern: "PUT /api/v1/config/{key}", Tag: "config", Summary: "Change one setting", Role: auth.Admin,
			Params: []apiParam{keyPath, ifMatchVersion}, Request: configPutRequest{Value: json.RawMessage(`"mail.example.com"`)},
			Responses: answers(ok(200, exampleConfigUpdated()), fails(append(body, notFound, conflict, precondition)...))},
		{Pattern: "DELETE /api/v1/config/{key}", Tag: "config", Summary: "Remove a setting's stored value (back to environment or default)", Role: auth.Admin,
			Params: []apiParam{keyPath, ifMatchVersion}, Responses: answers(ok(200, configDeletedAnswer{}), fails(bad, notFound, conflict, precondition))},
		{Pattern: "GET /api/v1/config/{key}/history", Tag: "config", Summary: "A setting's audit history", Role: auth.Admin, Feature: license.FeatureAuditLogs,
			Params: []apiParam{keyPath, limitQuery}, Responses: answers(ok(200, configHistoryAnswer{}), fails(bad, notFound))},
		{Pattern: "GET /api/v1/audit", Tag: "config", Summary: "The latest configuration changes of all keys", Role: auth.Admin, Feature: license.FeatureAuditLogs,
			Params: []apiParam{limitQuery}, Responses: answers(ok(200, auditAnswer{}), fails(bad))},
		{Pattern: "GET /api/v1/config/export", Tag: "config", Summary: "Export the configuration as a document", Role: auth.Admin,
			Description: "Secrets are left out unless include_secrets, and then sealed with the server's key, never in clear. Keys whose stored value cannot be decrypted are named in X-Rookery-Skipped.",
			Params: []apiParam{{Name: "format", In: "query", Enum: []string{"json", "yaml"}, Description: "json (the default) or yaml."}, categoryQuery,
				{Name: "all", In: "query", Type: "boolean", Description: "Add the keys on their environment or default value."},
				{Name: "include_secrets", In: "query", Type: "boolean", Description: "Add sensitive values, sealed."}},
			Responses: answers(ok(200, config.Document{}), apiResponse{Status: 200, Body: config.Document{}, ContentType: "application/yaml"}, fails(bad))},
		{Pattern: "POST /api/v1/config/apply", Tag: "config", Summary: "Plan a configuration document, and apply it unless dry_run", Role: auth.Admin,
			Request:   configApplyRequest{Document: json.RawMessage(`{"kind":"rookery/config","schema_version":1,"values":{"log_level":"debug"}}`), DryRun: true},
			Responses: answers(ok(200, planAnswer{}), fails(append(body, conflict, precondition)...))},
		{Pattern: "POST /api/v1/config/restore", Tag: "config", Summary: "Put every setting back to its value at an instant", Role: auth.Admin,
			Request:   configRestoreAtRequest{At: "2026-11-30T10:00:00Z", DryRun: true},
			Responses: answers(ok(200, planAnswer{}), fails(append(body, conflict, precondition)...))},
		{Pattern: "POST /api/v1/config/{key}/restore", Tag: "config", Summary: "Put a setting back to a version of its history", Role: auth.Admin,
			Params: []apiParam{keyPath}, Request: configRestoreVersionRequest{Version: 3, DryRun: true},
			Responses: answers(ok(200, planAnswer{}), fails(append(body, notFound, conflict, precondition)...))},
		{Pattern: "GET /api/v1/config/schema", Tag: "config", Summary: "JSON Schema of a configuration document", Role: auth.Admin,
			Responses: answers(apiResponse{Status: 200, Body: map[string]any{}, ContentType: "application/schema+json"})},
		{Pattern: "GET /api/v1/config/events", Tag: "config", Summary: "Stream of committed configuration changes (Server-Sent Events)", Role: auth.Admin,
			Description: `Events: "ready" {"revision"} first, then "change" {"revision", "keys", "changes": [{"key", "old", "new"}]} per change on any replica, "resync" {"revision"} when the client fell behind and should reload.`,
			Responses: answers(apiResponse{Status: 200, Text: true, ContentType: "text/event-stream",
				Events: map[string]any{"ready": configEvent{}, "change": configEvent{}, "resync": configEvent{}}})},

		{Pattern: "GET /api/v1/license", Tag: "license", Summary: "The licence, its entitlements and usage", Role: auth.Viewer,
			Responses: answers(ok(200, licenseAnswer{}))},
		{Pattern: "POST /api/v1/license/refresh", Tag: "license", Summary: "Check the licence with the licence server now", Role: auth.Admin,
			Responses: answers(ok(200, licenseRefreshAnswer{}))},

		{Pattern: "GET /api/v1/teams", Tag: "teams", Summary: "List teams", Role: auth.Viewer,
			Responses: answers(ok(200, exampleTeams()))},
		{Pattern: "POST /api/v1/teams", Tag: "teams", Summary: "Create a team", Role: auth.Admin,
			Description: "A second team needs the multiple_teams licence feature (403 otherwise).",
			Request:     createTeamRequest{Name: "platform", Members: []int64{1, 2}},
			Responses:   answers(ok(201, teamAnswer{}), fails(append(body, conflict)...))},
		{Pattern: "DELETE /api/v1/teams/{id}", Tag: "teams", Summary: "Delete a team", Role: auth.Admin,
			Params: []apiParam{idPath}, Responses: answers(ok(200, idMessageAnswer{}), fails(bad, notFound))},

		{Pattern: "GET /api/v1/apikeys", Tag: "apikeys", Summary: "List API keys (admins see everyone's)", Role: auth.Viewer, Feature: license.FeatureAPIKeys,
			Responses: answers(ok(200, apiKeysAnswer{}))},
		{Pattern: "POST /api/v1/apikeys", Tag: "apikeys", Summary: "Create an API key for oneself", Role: auth.Viewer, Feature: license.FeatureAPIKeys,
			Description: "The key is in the answer once; send it as Authorization: Bearer <key>. An API key cannot create keys.",
			Request:     createAPIKeyRequest{Name: "deploy", ExpiresAt: "2027-01-31T00:00:00Z"},
			Responses:   answers(ok(201, exampleAPIKeyCreated()), fails(body...))},
		{Pattern: "DELETE /api/v1/apikeys/{id}", Tag: "apikeys", Summary: "Revoke an API key", Role: auth.Viewer, Feature: license.FeatureAPIKeys,
			Params: []apiParam{idPath}, Responses: answers(ok(200, idMessageAnswer{}), fails(bad, notFound))},

		{Pattern: "GET /api/v1/ai/gateway", Tag: "ai", Summary: "Whether the AI gateway can take a request now", Role: auth.Viewer,
			Description: "detail (the technical reason) is given to admins only.",
			Responses:   answers(ok(200, aiGatewayAnswer{}))},
		{Pattern: "GET /api/v1/ai/features", Tag: "ai", Summary: "Which AI features are on (switch and licence)", Role: auth.Viewer,
			Responses: answers(ok(200, exampleAIFeatures()))},
		{Pattern: "POST /api/v1/ai/analyze", Tag: "ai", Summary: "Analyse text through WaddleAI", Role: auth.Viewer, Feature: "ai_analysis",
			Description: "403 also when ai_features_enabled is false (code ai_features_disabled).",
			Request:     aiAnalyzeRequest{Text: "The release went smoothly.", Task: "sentiment"},
			Responses:   answers(ok(200, aiAnalyzeAnswer{}), ai)},
		{Pattern: "POST /api/v1/ai/generate", Tag: "ai", Summary: "Generate text through WaddleAI", Role: auth.Viewer, Feature: "ai_generation",
			Description: `With ?stream=true the answer is Server-Sent Events: "delta" {"text"} events, then "done" {"finish_reason", "usage", "model"} or "error" {"error"}.`,
			Params:      []apiParam{{Name: "stream", In: "query", Type: "boolean", Description: "Stream the answer as Server-Sent Events."}},
			Request:     aiGenerateRequest{Prompt: "Write a release note for version 2."},
			Responses: answers(ok(200, aiGenerateAnswer{}), apiResponse{Status: 200, Text: true, ContentType: "text/event-stream",
				Events: map[string]any{"delta": streamDelta{}, "done": streamDone{}, "error": streamError{}}}, ai)},

		{Pattern: "GET /api/v1/integrations", Tag: "integrations", Summary: "The state of every outside service", Role: auth.Admin,
			Responses: answers(ok(200, Integrations{}))},
		{Pattern: "POST /api/v1/integrations/{name}/test", Tag: "integrations", Summary: "Test the connection to an outside service now", Role: auth.Admin,
			Description: "200 means the test ran; ok says how it went. Nothing is sent that has an effect (the email test connects, authenticates and quits).",
			Params:      []apiParam{{Name: "name", In: "path", Required: true, Description: "license, waddleai, killkrill, marchproxy or email."}},
			Responses: answers(ok(200, IntegrationTest{OK: true, Message: "The licence server answered and confirmed the key.", Detail: "200 OK"}),
				fails(notFound))},
		{Pattern: "GET /api/v1/integrations/killkrill", Tag: "integrations", Summary: "KillKrill shipping: settings, counters, receiver health", Role: auth.Admin,
			Responses: answers(ok(200, KillKrillReport{}))},
	}
}

func ptr[T any](v T) *T { return &v }

// samlACSForm is the form of the SAML HTTP-POST binding, as the identity
// provider posts it.
type samlACSForm struct {
	SAMLResponse string `json:"SAMLResponse"`
	RelayState   string `json:"RelayState,omitempty"`
}

// openAPIDoc is the document's top level, in the order a reader expects.
type openAPIDoc struct {
	OpenAPI    string         `json:"openapi"`
	Info       map[string]any `json:"info"`
	Servers    []any          `json:"servers"`
	Paths      map[string]any `json:"paths"`
	Components map[string]any `json:"components"`
}

// openAPIDocument builds the document of routes.
func openAPIDocument(routes []apiRoute) (*openAPIDoc, error) {
	ss := newSchemaSet()
	// Every error is {"error": "<sentence>"} plus details some refusals add
	// (the key, the limit, the role or feature needed...).
	errSchema := map[string]any{"type": "object", "properties": map[string]any{"error": map[string]any{"type": "string"}},
		"required": []string{"error"}, "additionalProperties": true,
		"description": "Every error: a sentence a person can act on, plus details some refusals add."}
	ss.defs["Error"] = errSchema
	paths := map[string]any{}
	seen := map[string]bool{}
	for _, rt := range routes {
		method, path, okp := strings.Cut(rt.Pattern, " ")
		if !okp {
			return nil, fmt.Errorf("route %q has no method", rt.Pattern)
		}
		if seen[rt.Pattern] {
			return nil, fmt.Errorf("route %q is declared twice", rt.Pattern)
		}
		seen[rt.Pattern] = true
		op, err := operation(ss, rt, method, path)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", rt.Pattern, err)
		}
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = op
	}
	return &openAPIDoc{
		OpenAPI: "3.1.0",
		Info: map[string]any{
			"title":   "rookery API",
			"version": "1",
			"description": "Configuration, licence, users, teams, API keys, AI and integrations of a rookery server. " +
				"Sign in with POST /api/v1/auth/login and send the token as Authorization: Bearer <token> (or an API key the same way); " +
				"the web interface uses the session cookie. Every error is {\"error\": \"<sentence>\", ...details}.",
		},
		// The paths are relative to the server that serves the document.
		Servers: []any{map[string]any{"url": "/"}},
		Paths:   paths,
		Components: map[string]any{
			"schemas": ss.defs,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "A session token from POST /api/v1/auth/login, or an API key (rk_...)."},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie, "description": "The web interface's session cookie; unsafe requests with it must come from this site's pages."},
			},
		},
	}, nil
}

func operation(ss *schemaSet, rt apiRoute, method, path string) (map[string]any, error) {
	op := map[string]any{"operationId": operationID(method, path), "summary": rt.Summary, "tags": []string{rt.Tag}}
	desc := rt.Description
	if rt.Role != "" {
		op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}}
		op["x-rookery-role"] = string(rt.Role)
		desc = strings.TrimSpace(desc + "\n\nNeeds the " + string(rt.Role) + " role (or above).")
	} else {
		op["security"] = []any{}
	}
	if rt.Feature != "" {
		op["x-rookery-licence-feature"] = rt.Feature
		if rt.FeatureAtLogin {
			desc = strings.TrimSpace(desc + "\n\nNeeds the licence feature " + rt.Feature + "; without it the browser is sent to /login?sso_error=<reason naming the feature>.")
		} else {
			desc = strings.TrimSpace(desc + "\n\nNeeds the licence feature " + rt.Feature + "; without it the answer is 403 naming the feature.")
		}
	}
	if desc != "" {
		op["description"] = desc
	}
	var params []any
	for _, p := range pathParams(path) {
		if !slices.ContainsFunc(rt.Params, func(d apiParam) bool { return d.Name == p && d.In == "path" }) {
			return nil, fmt.Errorf("path parameter %s is not declared", p)
		}
	}
	for _, p := range rt.Params {
		if p.In == "path" && !slices.Contains(pathParams(path), p.Name) {
			return nil, fmt.Errorf("parameter %s is not in the path", p.Name)
		}
		typ := p.Type
		if typ == "" {
			typ = "string"
		}
		s := map[string]any{"type": typ}
		if len(p.Enum) > 0 {
			s["enum"] = p.Enum
		}
		param := map[string]any{"name": p.Name, "in": p.In, "schema": s}
		if p.Required || p.In == "path" {
			param["required"] = true
		}
		if p.Description != "" {
			param["description"] = p.Description
		}
		params = append(params, param)
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.Request != nil {
		media := map[string]any{"schema": ss.ref(reflect.TypeOf(rt.Request))}
		if !reflect.ValueOf(rt.Request).IsZero() {
			media["example"] = rt.Request
		}
		ct := rt.RequestType
		if ct == "" {
			ct = "application/json"
		}
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{ct: media}}
	}
	responses := map[string]any{}
	add := func(r apiResponse) {
		key := strconv.Itoa(r.Status)
		if r.Status == 0 { // an answer this document does not know
			responses["default"] = map[string]any{"description": r.Description}
			return
		}
		resp, _ := responses[key].(map[string]any)
		if resp == nil {
			d := r.Description
			if d == "" {
				d = statusDescription(r.Status)
			}
			resp = map[string]any{"description": d, "content": map[string]any{}}
			responses[key] = resp
		}
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		var schema map[string]any
		if r.Redirect || r.Status == http.StatusNoContent {
			return // the answer is the Location header, or nothing
		}
		switch {
		case r.Text:
			schema = map[string]any{"type": "string"}
		case r.Body == nil:
			schema = map[string]any{"$ref": "#/components/schemas/Error"}
		default:
			schema = ss.ref(reflect.TypeOf(r.Body))
		}
		media := map[string]any{"schema": schema}
		if len(r.Events) > 0 {
			events := map[string]any{}
			for name, data := range r.Events {
				events[name] = ss.ref(reflect.TypeOf(data))
			}
			media["x-rookery-events"] = events
		}
		if r.Body != nil && !r.Text && !reflect.ValueOf(r.Body).IsZero() && reflect.TypeOf(r.Body).Kind() == reflect.Struct {
			media["example"] = r.Body
		}
		resp["content"].(map[string]any)[ct] = media
	}
	for _, r := range rt.Responses {
		add(r)
	}
	// The refusals every route of its kind can answer.
	common := []int{500}
	if strings.HasPrefix(path, "/api/") {
		common = append(common, 503)
	}
	if rt.Role != "" {
		common = append(common, 401, 403)
	}
	if rt.Feature != "" && !rt.FeatureAtLogin {
		common = append(common, 403)
	}
	for _, s := range common {
		if _, done := responses[strconv.Itoa(s)]; !done {
			add(apiResponse{Status: s})
		}
	}
	op["responses"] = responses
	return op, nil
}

// pathParams are the {names} of a ServeMux path.
func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}"))
		}
	}
	return out
}

// operationID names an operation after its method and path:
// PATCH /api/v1/users/{id} is patchUsersById.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	path = strings.TrimPrefix(strings.TrimPrefix(path, "/api/v1"), "/")
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '.' || r == '-' || r == '_' }) {
		if strings.HasPrefix(seg, "{") {
			seg = "By" + strings.Trim(seg, "{}")
		}
		r := []rune(seg)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

func statusDescription(status int) string {
	switch status {
	case 401:
		return "Not signed in: the token or session is missing, expired or revoked"
	case 403:
		return "Refused: the role, the licence or a cross-site check does not allow it"
	case 413:
		return "The body is larger than 1 MiB (or an AI text longer than its limit)"
	case 415:
		return "The body is not application/json"
	case 503:
		return "The database (or for AI routes the gateway) is unavailable; nothing was changed, try again shortly"
	}
	return http.StatusText(status)
}

// OpenAPI is the API document of rookery's own routes, as served at
// /api/v1/openapi.json and committed as docs/openapi.json.
func OpenAPI() ([]byte, error) { return encodeOpenAPI(apiRoutes()) }

func encodeOpenAPI(routes []apiRoute) ([]byte, error) {
	doc, err := openAPIDocument(routes)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode the API document: %w", err)
	}
	return b.Bytes(), nil
}

// openAPIRoute serves the document, built at the first request, once every
// route (an application's too) is registered.
func (s *Server) openAPIRoute() {
	build := sync.OnceValues(func() ([]byte, error) { return encodeOpenAPI(append(apiRoutes(), s.mux.declared()...)) })
	s.mux.HandleFunc("GET "+OpenAPIPath, func(w http.ResponseWriter, r *http.Request) {
		doc, err := build()
		if err != nil {
			s.fail(w, r, fmt.Errorf("the API document: %w", err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
}

// answerHook, when set, wraps every server's handler. Only this package's
// tests set it: they check every answer against the API document.
var answerHook func(http.Handler) http.Handler
