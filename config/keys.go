package config

import "time"

// Standard holds the settings every PenguinTech application carries under
// the integration standards, as typed handles grouped by the part that
// uses them. NewStandard declares a fresh set, so each app (and each of
// several apps in one process, as in tests) reads its own Config. An
// application declares its own settings the same way and registers them
// next to these.
type Standard struct {
	AppName          *Setting[string]
	PublicURL        *Setting[string]
	LogLevel         *Setting[string]
	LoginMaxAttempts *Setting[int64]
	SMTP             SMTPSettings
	WaddleAI         WaddleAISettings
	KillKrill        KillKrillSettings
	MarchProxy       MarchProxySettings
	License          LicenseSettings
	ConfigWebhook    ConfigWebhookSettings
	SSO              SSOSettings
}

// ConfigWebhookSettings say where committed configuration changes are
// sent, and the secret their signature is made with.
type ConfigWebhookSettings struct {
	URL    *Setting[string]
	Secret *Setting[Secret]
}

// SMTPSettings are the standards' mail settings.
type SMTPSettings struct {
	Host *Setting[string]
	Port *Setting[int64]
	User *Setting[string]
	Pass *Setting[Secret]
	From *Setting[string]
	// TLS is how the connection is encrypted: "starttls" (upgrade a plain
	// connection, refusing a server that cannot), "tls" (implicit TLS, as
	// on port 465) or "none".
	TLS *Setting[string]
	// Timeout bounds connecting and each exchange with the server.
	Timeout *Setting[time.Duration]
	// AllowInsecure lets smtp_tls=none reach a server other than this
	// machine, where the password and the messages would cross the
	// network in clear.
	AllowInsecure *Setting[bool]
}

// WaddleAISettings say where the AI gateway is and how to use it.
type WaddleAISettings struct {
	URL             *Setting[string]
	APIKey          *Setting[Secret]
	Timeout         *Setting[time.Duration]
	Model           *Setting[string]
	FeaturesEnabled *Setting[bool]
}

// KillKrillSettings say where logs and metrics are shipped.
type KillKrillSettings struct {
	Enabled       *Setting[bool]
	APIURL        *Setting[string]
	MetricsURL    *Setting[string]
	GRPCURL       *Setting[string]
	ClientID      *Setting[string]
	ClientSecret  *Setting[Secret]
	Mode          *Setting[string]
	FlushInterval *Setting[time.Duration]
	// SpoolMaxMB caps the on-disk spool of entries waiting for KillKrill.
	SpoolMaxMB *Setting[int64]
	// OTLPEndpoint, when set, exports logs, metrics and traces over
	// OTLP/HTTP; its variable is the standard OTEL_EXPORTER_OTLP_ENDPOINT.
	OTLPEndpoint *Setting[string]
}

// MarchProxySettings say where the gateway's API server is and how to sign
// in to it.
type MarchProxySettings struct {
	API           *Setting[string]
	ClusterID     *Setting[int64]
	Username      *Setting[string]
	Password      *Setting[Secret]
	ClusterAPIKey *Setting[Secret]
}

// LicenseSettings say which licence to validate, where.
type LicenseSettings struct {
	Key         *Setting[Secret]
	ServerURL   *Setting[string]
	ProductName *Setting[string]
	ReleaseMode *Setting[bool]
}

// NewStandard declares the standards' settings.
func NewStandard() *Standard {
	return &Standard{
		AppName: String("app_name", System, Default("rookery"),
			Describe("Application name; prefixes MarchProxy service names ({app_name}-{service})"),
			Validate(Regex(`^[a-z][a-z0-9-]{0,62}$`, "lower-case letters, digits and hyphens, starting with a letter"))),
		PublicURL: String("public_url", System,
			Describe("External base URL of this server (https://rookery.example.com): links in emails and single sign-on redirects are built on it"),
			Validate(Optional(URL()))),
		LogLevel: String("log_level", System, Default("info"),
			Describe("Minimum level of application logs"), Validate(OneOf("debug", "info", "warn", "error"))),
		LoginMaxAttempts: Int("login_max_attempts", Security, Default("5"),
			Describe("Failed sign-ins allowed per account (four times as many per client address) before sign-in is locked for a while"),
			Validate(Range(1, 100))),

		SMTP: SMTPSettings{
			Host: String("smtp_host", Email, Describe("SMTP server hostname"), Validate(Optional(Hostname())), Carries("smtp_pass")),
			// The port carries the password too: on the same host it picks
			// the listening process (any local user can own a port above
			// 1024), and by convention whether the connection is encrypted
			// at all (465 implicit TLS, 25 often plain), so a port change
			// alone can hand the password to someone else or to the network
			// in clear.
			Port: Int("smtp_port", Email, Default("587"), Describe("SMTP server port"), Validate(Port()), Carries("smtp_pass")),
			User: String("smtp_user", Email, Describe("SMTP username")),
			Pass: SecretString("smtp_pass", Email, Describe("SMTP password")),
			From: String("smtp_from", Email, Describe("Sender address of outgoing mail"), Validate(Optional(EmailAddress()))),
			TLS: String("smtp_tls", Email, Default("starttls"),
				Describe("Encryption of the SMTP connection: starttls (upgrade, required), tls (implicit TLS, usually port 465) or none (only to this machine unless smtp_allow_insecure)"),
				// Whether the password crosses the network in clear is decided
				// here, so a change asks for the password again, as for the host.
				Validate(OneOf("starttls", "tls", "none")), Carries("smtp_pass")),
			Timeout: Seconds("smtp_timeout", Email, Default("10"),
				Describe("Seconds to wait for the SMTP server to connect and answer each command"), Validate(Range(1, 300))),
			AllowInsecure: Bool("smtp_allow_insecure", Email, Default("false"),
				Describe("Allow smtp_tls=none to a server other than this machine (the password and messages then cross the network unencrypted)"),
				Carries("smtp_pass")),
		},

		WaddleAI: WaddleAISettings{
			URL: String("waddleai_url", Integration, Default("http://waddleai:8080"),
				Describe("WaddleAI API endpoint (the OpenAI-compatible proxy)"), Validate(URL()), Carries("waddleai_api_key")),
			APIKey: SecretString("waddleai_api_key", Integration, Describe("WaddleAI API key (wa-...)")),
			Timeout: Seconds("waddleai_timeout", Integration, Default("30"),
				Describe("Seconds to wait for a WaddleAI answer"), Validate(Range(1, 600))),
			Model:           String("waddleai_model", Integration, Describe("Model asked of WaddleAI; empty lets the gateway choose")),
			FeaturesEnabled: Bool("ai_features_enabled", Integration, Default("true"), Describe("Master switch of the licence-gated AI features")),
		},

		KillKrill: KillKrillSettings{
			Enabled: Bool("killkrill_enabled", Integration, Default("false"), Describe("Ship logs and metrics to KillKrill")),
			APIURL: String("killkrill_api_url", Integration, Default("http://killkrill-receiver:8081"),
				Describe("KillKrill log receiver"), Validate(URL()), Carries("killkrill_client_secret")),
			MetricsURL: String("killkrill_metrics_url", Integration,
				Describe("KillKrill metrics receiver; empty means the log receiver's host on port 8082"), Validate(Optional(URL())),
				Carries("killkrill_client_secret")),
			GRPCURL: String("killkrill_grpc_url", Integration, Default("killkrill-receiver:50051"),
				Describe("Accepted for compatibility; KillKrill has no gRPC ingest service, so it is not used"), Validate(Optional(HostPort()))),
			ClientID:     String("killkrill_client_id", Integration, Describe("KillKrill client id")),
			ClientSecret: SecretString("killkrill_client_secret", Integration, Describe("KillKrill client secret")),
			Mode: String("killkrill_mode", Integration, Default("entry"),
				Describe("entry: one JSON entry per request (the real receivers); batch: the standards' batch body"), Validate(OneOf("entry", "batch"))),
			FlushInterval: Seconds("killkrill_flush_interval", Integration, Default("5"),
				Describe("Seconds between batches sent to KillKrill"), Validate(Range(1, 300))),
			SpoolMaxMB: Int("killkrill_spool_max_mb", Integration, Default("256"),
				Describe("Megabytes of undelivered KillKrill entries kept on disk under DATA_DIR for replay; when full the oldest non-errors go first"),
				Validate(Range(1, 1<<20))),
			OTLPEndpoint: String("otel_exporter_otlp_endpoint", Integration,
				Describe("OpenTelemetry collector base URL (OTLP/HTTP, e.g. http://otel-collector:4318); empty switches OpenTelemetry export off"),
				Validate(Optional(URL()))),
		},

		MarchProxy: MarchProxySettings{
			API: String("marchproxy_api", Integration, Default("http://localhost:8000"),
				Describe("MarchProxy API server"), Validate(URL()), Carries("marchproxy_password", "cluster_api_key")),
			ClusterID: Int("marchproxy_cluster_id", Integration, Default("1"),
				Describe("MarchProxy cluster that receives rookery's services"), Validate(Range(1, 1<<31-1))),
			Username:      String("marchproxy_username", Integration, Describe("MarchProxy user for the import")),
			Password:      SecretString("marchproxy_password", Integration, Describe("MarchProxy user's password")),
			ClusterAPIKey: SecretString("cluster_api_key", Integration, Describe("MarchProxy cluster API key (config routes)")),
		},

		License: LicenseSettings{
			Key: SecretString("license_key", License, Describe("PenguinTech licence key"),
				Validate(Optional(Regex(`^PENG-[A-Z0-9]{4}(-[A-Z0-9]{4}){4}$`, "a licence key of the shape PENG-XXXX-XXXX-XXXX-XXXX-XXXX")))),
			ServerURL: String("license_server_url", License, Default("https://license.penguintech.io"),
				Describe("PenguinTech licence server"), Validate(SecureURL()), Carries("license_key")),
			ProductName: String("product_name", License, Default("rookery"),
				Describe("Product name sent to the licence server"),
				Validate(Regex(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`, "letters, digits, dots, hyphens and underscores"))),
			ReleaseMode: Bool("release_mode", License, Default("false"),
				Describe("Enforce the licence (false: development, every feature on)")),
		},

		ConfigWebhook: ConfigWebhookSettings{
			// The URL carries the secret: whoever chooses the receiver could
			// otherwise collect signatures made with it.
			URL: String("config_webhook_url", Integration,
				Describe("Receiver of a signed POST after each committed configuration change; empty sends nothing"),
				Validate(Optional(SecureURL())), Carries("config_webhook_secret")),
			Secret: SecretString("config_webhook_secret", Integration,
				Describe("Secret of the X-Rookery-Signature HMAC on configuration change events")),
		},
		SSO: newSSOSettings(),
	}
}

// Decls lists the standard settings, for a Registry.
func (s *Standard) Decls() []Decl { return DeclsOf(s) }

// StandardKeys declares a fresh set of the standards' settings, for
// registries that do not read them through handles (tools, tests).
func StandardKeys() []Decl { return NewStandard().Decls() }
