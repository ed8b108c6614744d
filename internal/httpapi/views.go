package httpapi

import (
	"encoding/json"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/teams"
	"github.com/rookery/rookery/waddleai"
)

// The request and answer shapes of the API. Each is one Go type, so the
// handlers, the API document (openapi.go) and the web interface's
// generated types cannot disagree.

// messageAnswer is the answer of an action that only needs saying.
type messageAnswer struct {
	Message string `json:"message"`
}

// idMessageAnswer confirms an action on the object with this id.
type idMessageAnswer struct {
	Message string `json:"message"`
	ID      int64  `json:"id"`
}

// statusAnswer is the answer of /healthz and of accepted background work.
type statusAnswer struct {
	Status string `json:"status"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginAnswer struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresAt   time.Time `json:"expires_at"`
	ExpiresIn   int       `json:"expires_in"`
	User        userView  `json:"user"`
}

// meUser is who the caller is, as the session or API key says.
type meUser struct {
	ID    int64     `json:"id"`
	Email string    `json:"email"`
	Role  auth.Role `json:"role"`
}

type meAnswer struct {
	User      meUser    `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
}

type passwordChangeRequest struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

type usersAnswer struct {
	Users []userView `json:"users" openapi:"nonnull"`
	Total int        `json:"total"`
}

type createUserRequest struct {
	Email string `json:"email"`
	// Password may be left out: the user is then invited by email.
	Password string `json:"password,omitempty"`
	Role     string `json:"role,omitempty" openapi:"enum=viewer|maintainer|admin"`
}

type updateUserRequest struct {
	Role     *string `json:"role,omitempty" openapi:"enum=viewer|maintainer|admin"`
	Password *string `json:"password,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
}

type userAnswer struct {
	User userView `json:"user"`
	// Invitation is "queued" when creating the user queued an invitation email.
	Invitation string `json:"invitation,omitempty"`
}

type userDeletedAnswer struct {
	Message string   `json:"message"`
	User    userView `json:"user"`
}

type apiKeysAnswer struct {
	APIKeys []auth.APIKey `json:"api_keys" openapi:"nonnull"`
}

type createAPIKeyRequest struct {
	Name string `json:"name"`
	// ExpiresAt is an RFC 3339 time; empty never expires.
	ExpiresAt string `json:"expires_at,omitempty"`
}

type apiKeyCreatedAnswer struct {
	APIKey auth.APIKey `json:"api_key"`
	// Key is the secret, shown this once.
	Key     string `json:"key"`
	Message string `json:"message"`
}

type teamsAnswer struct {
	Teams []teams.Team `json:"teams" openapi:"nonnull"`
	Total int          `json:"total"`
}

type createTeamRequest struct {
	Name    string  `json:"name"`
	Members []int64 `json:"members,omitempty"`
}

type teamAnswer struct {
	Team teams.Team `json:"team"`
}

type configListAnswer struct {
	Configs []configView `json:"configs" openapi:"nonnull"`
	Total   int          `json:"total"`
	// Revision is the configuration revision: If-Match on PATCH
	// /api/v1/config carries it.
	Revision int64 `json:"revision"`
}

type configPutRequest struct {
	// Value is a string, number or boolean, or an object or array for a
	// json setting.
	Value json.RawMessage `json:"value"`
}

type configUpdatedAnswer struct {
	Message   string     `json:"message"`
	Key       string     `json:"key"`
	UpdatedBy string     `json:"updated_by"`
	Config    configView `json:"config"`
}

type configDeletedAnswer struct {
	Message string `json:"message"`
	Key     string `json:"key"`
}

type configHistoryAnswer struct {
	Key     string               `json:"key"`
	History []config.AuditRecord `json:"history" openapi:"nonnull"`
}

type auditAnswer struct {
	Audit []config.AuditRecord `json:"audit" openapi:"nonnull"`
}

type configPatchRequest struct {
	// Values maps keys to their new values; null removes the stored value.
	Values map[string]json.RawMessage `json:"values" openapi:"nonnull"`
}

// configChanged is one key a batch change wrote.
type configChanged struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
	Removed bool   `json:"removed,omitempty"`
}

type configPatchAnswer struct {
	Message   string          `json:"message"`
	Changed   []configChanged `json:"changed" openapi:"nonnull"`
	Revision  int64           `json:"revision"`
	UpdatedBy string          `json:"updated_by"`
}

type configApplyRequest struct {
	// Document is what GET /api/v1/config/export returns, or its YAML text.
	Document json.RawMessage `json:"document"`
	DryRun   bool            `json:"dry_run,omitempty"`
	Prune    bool            `json:"prune,omitempty"`
}

type configRestoreVersionRequest struct {
	Version int64 `json:"version"`
	DryRun  bool  `json:"dry_run,omitempty"`
}

type configRestoreAtRequest struct {
	// At is an RFC 3339 time.
	At     string `json:"at" openapi:"format=date-time"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// planAnswer is a plan of configuration changes, and whether it was written.
type planAnswer struct {
	Changes  []config.PlannedChange `json:"changes" openapi:"nonnull"`
	Applied  bool                   `json:"applied"`
	DryRun   bool                   `json:"dry_run"`
	Revision int64                  `json:"revision"`
	// Skipped names keys left alone, with why.
	Skipped  map[string]string `json:"skipped,omitempty"`
	ChangeID string            `json:"change_id,omitempty"`
}

// readyAnswer is /readyz.
type readyAnswer struct {
	Status   string `json:"status" openapi:"enum=ready|starting|unavailable"`
	Database string `json:"database" openapi:"enum=ok|damaged|unreachable"`
	Error    string `json:"error,omitempty"`
}

type aiFeaturesAnswer struct {
	Features          map[string]bool `json:"features" openapi:"nonnull"`
	AIFeaturesEnabled bool            `json:"ai_features_enabled"`
}

type aiAnalyzeRequest struct {
	Text string `json:"text"`
	// Task is sentiment (the default), classification, summary, entities or language.
	Task string `json:"task,omitempty"`
}

type aiAnalyzeAnswer struct {
	Response *waddleai.Analysis `json:"response" openapi:"nonnull"`
	Usage    waddleai.Usage     `json:"usage"`
	Model    string             `json:"model"`
}

type aiGenerateRequest struct {
	Prompt  string  `json:"prompt"`
	Context *string `json:"context,omitempty"`
}

type aiGenerateAnswer struct {
	Response     string         `json:"response"`
	Usage        waddleai.Usage `json:"usage"`
	Model        string         `json:"model"`
	FinishReason string         `json:"finish_reason"`
}
