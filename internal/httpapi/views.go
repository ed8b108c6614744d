package httpapi

import (
	"time"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/teams"
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
