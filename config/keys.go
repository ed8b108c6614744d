package config

// StandardKeys declares the settings every PenguinTech application carries
// under the integration standards. An application adds its own keys next to
// these when it builds its Registry.
func StandardKeys() []Key {
	return []Key{
		// system
		{Name: "app_name", Type: String, Category: System, Default: "rookery",
			Description: "Application name; prefixes MarchProxy service names ({app_name}-{service})",
			Rule:        Regex(`^[a-z][a-z0-9-]{0,62}$`, "lower-case letters, digits and hyphens, starting with a letter")},
		{Name: "log_level", Type: String, Category: System, Default: "info",
			Description: "Minimum level of application logs", Rule: OneOf("debug", "info", "warn", "error")},

		// security
		{Name: "login_max_attempts", Type: Integer, Category: Security, Default: "5",
			Description: "Failed sign-ins allowed per account (four times as many per client address) before sign-in is locked for a while", Rule: Range(1, 100)},

		// email (the standards' SMTP keys)
		{Name: "smtp_host", Type: String, Category: Email, Description: "SMTP server hostname", Rule: Optional(Hostname()),
			Carries: []string{"smtp_pass"}},
		// The port carries the password too: on the same host it picks the
		// listening process (any local user can own a port above 1024), and
		// by convention whether the connection is encrypted at all (465
		// implicit TLS, 25 often plain), so a port change alone can hand the
		// password to someone else or to the network in clear.
		{Name: "smtp_port", Type: Integer, Category: Email, Default: "587", Description: "SMTP server port", Rule: Port(),
			Carries: []string{"smtp_pass"}},
		{Name: "smtp_user", Type: String, Category: Email, Description: "SMTP username"},
		{Name: "smtp_pass", Type: String, Category: Email, Description: "SMTP password", Sensitive: true},
		{Name: "smtp_from", Type: String, Category: Email, Description: "Sender address of outgoing mail", Rule: Optional(EmailAddress())},

		// integration: WaddleAI
		{Name: "waddleai_url", Type: String, Category: Integration, Default: "http://waddleai:8080",
			Description: "WaddleAI API endpoint (the OpenAI-compatible proxy)", Rule: URL(), Carries: []string{"waddleai_api_key"}},
		{Name: "waddleai_api_key", Type: String, Category: Integration, Description: "WaddleAI API key (wa-...)", Sensitive: true},
		{Name: "waddleai_timeout", Type: Integer, Category: Integration, Default: "30",
			Description: "Seconds to wait for a WaddleAI answer", Rule: Range(1, 600)},
		{Name: "waddleai_model", Type: String, Category: Integration, Description: "Model asked of WaddleAI; empty lets the gateway choose"},
		{Name: "ai_features_enabled", Type: Boolean, Category: Integration, Default: "true",
			Description: "Master switch of the licence-gated AI features"},

		// integration: KillKrill
		{Name: "killkrill_enabled", Type: Boolean, Category: Integration, Default: "false", Description: "Ship logs and metrics to KillKrill"},
		{Name: "killkrill_api_url", Type: String, Category: Integration, Default: "http://killkrill-receiver:8081",
			Description: "KillKrill log receiver", Rule: URL(), Carries: []string{"killkrill_client_secret"}},
		{Name: "killkrill_metrics_url", Type: String, Category: Integration,
			Description: "KillKrill metrics receiver; empty means the log receiver's host on port 8082", Rule: Optional(URL()),
			Carries: []string{"killkrill_client_secret"}},
		{Name: "killkrill_grpc_url", Type: String, Category: Integration, Default: "killkrill-receiver:50051",
			Description: "Accepted for compatibility; KillKrill has no gRPC ingest service, so it is not used", Rule: Optional(HostPort())},
		{Name: "killkrill_client_id", Type: String, Category: Integration, Description: "KillKrill client id"},
		{Name: "killkrill_client_secret", Type: String, Category: Integration, Description: "KillKrill client secret", Sensitive: true},
		{Name: "killkrill_mode", Type: String, Category: Integration, Default: "entry",
			Description: "entry: one JSON entry per request (the real receivers); batch: the standards' batch body", Rule: OneOf("entry", "batch")},
		{Name: "killkrill_flush_interval", Type: Integer, Category: Integration, Default: "5",
			Description: "Seconds between batches sent to KillKrill", Rule: Range(1, 300)},

		// integration: MarchProxy
		{Name: "marchproxy_api", Type: String, Category: Integration, Default: "http://localhost:8000",
			Description: "MarchProxy API server", Rule: URL(), Carries: []string{"marchproxy_password", "cluster_api_key"}},
		{Name: "marchproxy_cluster_id", Type: Integer, Category: Integration, Default: "1",
			Description: "MarchProxy cluster that receives rookery's services", Rule: Range(1, 1<<31-1)},
		{Name: "marchproxy_username", Type: String, Category: Integration, Description: "MarchProxy user for the import"},
		{Name: "marchproxy_password", Type: String, Category: Integration, Description: "MarchProxy user's password", Sensitive: true},
		{Name: "cluster_api_key", Type: String, Category: Integration, Description: "MarchProxy cluster API key (config routes)", Sensitive: true},

		// license
		{Name: "license_key", Type: String, Category: License, Sensitive: true,
			Description: "PenguinTech licence key",
			Rule:        Optional(Regex(`^PENG-[A-Z0-9]{4}(-[A-Z0-9]{4}){4}$`, "a licence key of the shape PENG-XXXX-XXXX-XXXX-XXXX-XXXX"))},
		{Name: "license_server_url", Type: String, Category: License, Default: "https://license.penguintech.io",
			Description: "PenguinTech licence server", Rule: SecureURL(), Carries: []string{"license_key"}},
		{Name: "product_name", Type: String, Category: License, Default: "rookery",
			Description: "Product name sent to the licence server", Rule: Regex(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`, "letters, digits, dots, hyphens and underscores")},
		{Name: "release_mode", Type: Boolean, Category: License, Default: "false",
			Description: "Enforce the licence (false: development, every feature on)"},
	}
}
