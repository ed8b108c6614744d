package httpapi

import (
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/teams"
)

// Examples of answers for the API document. They are values of the
// answers' own types, so the document's check of its examples (kin-openapi
// validates each against its schema) also checks them.

// exampleTime is the instant the examples speak of.
func exampleTime() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }

func exampleUser() userView {
	last := exampleTime().Add(-2 * time.Hour)
	return userView{ID: 2, Email: "ops@example.com", Role: auth.Maintainer, CreatedAt: exampleTime().AddDate(0, -1, 0),
		UpdatedAt: exampleTime().AddDate(0, 0, -3), SignInMethod: auth.MethodPassword, LastSignInAt: &last}
}

func exampleLogin() loginAnswer {
	return loginAnswer{AccessToken: "3q2-example-session-token", TokenType: "Bearer", ExpiresAt: exampleTime().Add(time.Hour),
		ExpiresIn: 3600, User: exampleUser()}
}

func exampleMe() meAnswer {
	u := exampleUser()
	return meAnswer{User: meUser{ID: u.ID, Email: u.Email, Role: u.Role}, ExpiresAt: exampleTime().Add(time.Hour)}
}

func exampleConfig() configView {
	by := "admin@example.com"
	updated, created := exampleTime(), exampleTime().AddDate(0, 0, -7)
	lo, hi := int64(1), int64(65535)
	return configView{Key: "smtp_port", Value: "2525", Type: config.TypeInteger, Category: config.Email,
		Description: "SMTP server port", IsSet: true, Source: config.FromDatabase, Rule: "a port (1-65535)",
		Constraints: &config.Constraints{Min: &lo, Max: &hi, Format: "port"}, Default: "587", Version: 3,
		LastUpdated: &updated, UpdatedBy: &by, CreatedAt: &created}
}

func exampleConfigList() configListAnswer {
	return configListAnswer{Configs: []configView{exampleConfig()}, Total: 1, Revision: 12}
}

func exampleConfigUpdated() configUpdatedAnswer {
	return configUpdatedAnswer{Message: "Configuration updated successfully", Key: "smtp_port", UpdatedBy: "admin@example.com", Config: exampleConfig()}
}

func exampleConfigPatched() configPatchAnswer {
	return configPatchAnswer{Message: "Configuration updated successfully", Revision: 13, UpdatedBy: "admin@example.com",
		Changed: []configChanged{{Key: "smtp_host", Version: 2}, {Key: "smtp_port", Version: 4}}}
}

func exampleTeams() teamsAnswer {
	return teamsAnswer{Teams: []teams.Team{{ID: 1, Name: "platform", Members: []int64{1, 2}, CreatedAt: exampleTime()}}, Total: 1}
}

func exampleAPIKeyCreated() apiKeyCreatedAnswer {
	exp := exampleTime().AddDate(0, 2, 0)
	return apiKeyCreatedAnswer{
		APIKey:  auth.APIKey{ID: 7, UserID: 2, Name: "deploy", Prefix: "rk_4f9a", CreatedAt: exampleTime(), ExpiresAt: &exp},
		Key:     "rk_4f9a-example-secret",
		Message: "Store this key now: it is shown once. Send it as Authorization: Bearer <key>."}
}

func exampleAIFeatures() aiFeaturesAnswer {
	return aiFeaturesAnswer{AIFeaturesEnabled: true,
		Features: map[string]bool{"ai_analysis": true, "ai_generation": true, "ai_training": false, "ai_custom_models": false}}
}
